"""Two tuning workers (two processes, as on two machines) share one study in a real PostgreSQL;
one is killed with SIGKILL mid-trial, and the study still completes its trials: the dead
worker's trial is failed by the heartbeat and retried."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.storages import RetryFailedTrialCallback
from optuna.trial import TrialState

from postgres import bindir, cluster

pytestmark = pytest.mark.skipif(
    bindir() is None, reason="PostgreSQL is not installed (apt-get install postgresql; .ci/run installs it)"
)
TRIALS = 4


def worker(url, tmp_path):
    space = tmp_path / "space.yml"
    space.write_text("learning_rate: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}\n")
    return subprocess.Popen(
        [
            sys.executable,
            *"-m harness tune --env Pendulum-v1 --algo td3 --trials".split(),
            str(TRIALS),
            *"--steps 1400 --eval-freq 200 --eval-episodes 1 --hp net_arch=[16] --space".split(),
            str(space),
            "--storage",
            url,
            *"--heartbeat 1 --pruner none --study shared --results".split(),
            str(tmp_path / "results"),
            "--promote",
            "--tuned-dir",
            str(tmp_path / "tuned"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.long
def test_killed_worker_trial_is_failed_and_retried(tmp_path):
    with cluster() as url:
        doomed = worker(url, tmp_path)
        storage = optuna.storages.RDBStorage(url)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the first worker is inside a trial
            try:
                running = optuna.load_study(study_name="shared", storage=storage).get_trials(
                    deepcopy=False, states=(TrialState.RUNNING,)
                )
            except KeyError:
                running = []
            if running:
                break
            time.sleep(0.2)
        assert running, doomed.communicate()[1]
        survivor = worker(url, tmp_path)
        time.sleep(1.0)
        os.killpg(doomed.pid, signal.SIGKILL)  # mid-trial: its trial is left RUNNING
        doomed.wait()
        _out, err = survivor.communicate(timeout=600)
        assert survivor.returncode == 0, err

        study = optuna.load_study(study_name="shared", storage=storage)
        states = [t.state for t in study.trials]
        assert states.count(TrialState.COMPLETE) == TRIALS
        assert TrialState.RUNNING not in states
        failed = [t for t in study.trials if t.state == TrialState.FAIL]
        assert len(failed) == 1 and failed[0].number == running[0].number  # the killed worker's trial
        retries = [t for t in study.trials if RetryFailedTrialCallback.retried_trial_number(t) == failed[0].number]
        assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
        assert retries[0].params == failed[0].params
        assert (tmp_path / "tuned" / "td3" / "Pendulum-v1.yml").exists()
