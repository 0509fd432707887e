"""No evaluation wasted: an agent that does not learn is evaluated once (the same results recorded at
every step), and the value measure records a stated subset of each evaluation's episodes; neither
changes a score."""

import dataclasses

import numpy as np
import pandas as pd

from harness.agents import get_arm
from harness.run import runner
from harness.run.evaluator import Evaluator
from harness.run.spec import Budget, RunSpec


def _spec(arm, steps=1000, eval_freq=200, episodes=4, **config):
    base = get_arm(arm).config_cls()
    config = dataclasses.replace(base, **config)
    return RunSpec(
        "e", arm, "Pendulum-v1", 0, Budget("full", steps, steps, eval_freq, episodes), config, ("t",), 0, "cpu"
    )


def test_an_agent_that_does_not_learn_is_evaluated_once_with_the_same_results(tmp_path, monkeypatch):
    calls = []
    original = Evaluator.evaluate

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Evaluator, "evaluate", counted)
    summary = runner.execute(_spec("random"), tmp_path)
    assert summary["status"] == "complete" and len(calls) == 1  # 6 evaluations in the schedule, 1 run
    evals = pd.read_csv(tmp_path / "e" / "random" / "Pendulum-v1_0" / "evals.csv")
    assert evals["step"].tolist() == [0, 200, 400, 600, 800, 1000]
    returns = evals.filter(regex=r"^return_\d").to_numpy()
    assert (returns == returns[0]).all()
    # ... and they are what evaluating the agent at any step gives.
    _env, agent = runner.start_agent(get_arm("random"), "Pendulum-v1", get_arm("random").config_cls(), 0, "cpu")
    agent.learn(1000, lambda step: True)
    evaluator = Evaluator("Pendulum-v1", 4, _spec("random").eval_seed)
    again, _ = original(evaluator, lambda obs: agent.predict(obs, deterministic=True))
    assert np.allclose(again, returns[0], rtol=1e-5)
    assert "does not learn (learns = False): evaluated once" in get_arm("random").capabilities.describe()


def test_the_value_measure_records_a_subset_and_changes_no_score(tmp_path):
    small = {"learning_starts": 100, "batch_size": 32, "net_arch": (16, 16), "buffer_size": 2000}
    runs = {}
    for k in (4, 1):
        spec = dataclasses.replace(_spec("td3", steps=400, eval_freq=200, **small), value_episodes=k)
        root = tmp_path / f"k{k}"
        assert runner.execute(spec, root)["status"] == "complete"
        runs[k] = pd.read_csv(spec.run_dir(root) / "evals.csv")
    cols = [c for c in runs[4] if c.startswith("return_")]
    pd.testing.assert_frame_equal(runs[4][cols], runs[1][cols])  # the same scores
    assert (runs[1]["value_states"] < runs[4]["value_states"]).all()  # fewer states measured
    assert (runs[1]["value_states"] == 200).all()  # one episode of Pendulum's 200 states
