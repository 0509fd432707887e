"""PRECISION=bf16: every torch arm's updates at bf16 matrix products with fp32 weights and optimizer state;
acting stays fp32; a study runs at one precision, recorded, and refuses arms that cannot follow it."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from custom_td3.td3 import TD3
from harness.agents import get_arm
from harness.config import resolve
from harness.errors import UsageError
from harness.run import rundir
from harness.run.precision import Probe, choose
from harness.run.runner import execute
from harness.study.plan import make_plan
from harness.study.spec import StudySpec

TINY = {"steps": 300, "eval_freq": 150, "eval_episodes": 1}


def _agent(precision: str = "fp32", warm: int = 0) -> TD3:
    env = gym.make("Pendulum-v1")
    env.reset(seed=0)
    agent = TD3(env, TD3.Config(learning_starts=100, net_arch=(64, 64)), seed=0)
    agent.set_precision(precision)
    return agent.learn(warm)


def _parameters(agent: TD3) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in [*agent.actor.parameters(), *agent.critic.parameters()]])


def _gradients(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in module.parameters()])


def test_td3_in_bf16_computes_the_fp32_update_to_bf16_rounding():
    fp32, bf16 = _agent("fp32", warm=100), _agent("bf16", warm=100)  # no update yet: the same state
    batch = fp32.buffer.sample(256, 1.0)
    fp32.num_updates = bf16.num_updates = 1  # the next update is an actor update too (policy_delay 2)
    fp32.train(batch), bf16.train(batch)
    for net in ("critic", "actor"):
        exact, rounded = _gradients(getattr(fp32, net)), _gradients(getattr(bf16, net))
        error = float((exact - rounded).norm() / exact.norm())
        assert 0 < error < 0.05, (net, error)  # bf16 products (8 significant bits), the same mathematics
    assert float(bf16.last_losses["critic_loss"]) == pytest.approx(float(fp32.last_losses["critic_loss"]), rel=0.02)


def test_td3_in_bf16_keeps_fp32_weights_optimizer_state_losses_and_actions():
    agent = _agent("bf16", warm=400)
    assert agent.num_updates == 300 and all(torch.isfinite(v) for v in agent.last_losses.values())
    assert {p.dtype for p in [*agent.actor.parameters(), *agent.critic.parameters()]} == {torch.float32}
    states = [s for opt in (agent.actor_optimizer, agent.critic_optimizer) for s in opt.state.values()]
    assert {t.dtype for s in states for k, t in s.items() if k != "step"} == {torch.float32}
    assert {t.dtype for t in agent.last_losses.values()} == {torch.float32}
    assert agent.predict(gym.make("Pendulum-v1").reset(seed=0)[0]).dtype == np.float32  # acting stays fp32
    assert not torch.equal(_parameters(agent), _parameters(_agent("fp32", warm=400)))


def test_td3_fp32_is_the_update_as_written_and_precision_is_not_saved(tmp_path):
    assert torch.equal(_parameters(_agent("fp32", warm=300)), _parameters(_agent(warm=300)))
    bf16 = _agent("bf16", warm=150)
    assert "precision" not in bf16.state_dict()
    loaded = TD3.load(bf16.save(tmp_path / "model"), gym.make("Pendulum-v1"))
    assert loaded.precision == "fp32"  # the harness sets it again on resume
    with pytest.raises(ValueError, match="precision 'fp16'; accepted: fp32, bf16"):
        bf16.set_precision("fp16")


@pytest.mark.parametrize("name", ["sb3-td3", "sb3-sac"])
def test_sb3_arms_in_bf16_keep_fp32_weights_and_change_only_the_update(name):
    arm = get_arm(name)
    base = resolve.resolve(arm, "Pendulum-v1").config
    small = {"net_arch": (32, 32)} if hasattr(base, "net_arch") else {"net_arch_pi": (32, 32), "net_arch_qf": (32, 32)}
    config = dataclasses.replace(base, learning_starts=50, batch_size=32, **small)

    def trained(precision):
        env = gym.make("Pendulum-v1")
        env.reset(seed=0)
        agent = arm.build(env, config, 0, "cpu")
        agent.set_precision(precision)
        agent.learn(200, lambda step: True)
        return agent

    fp32, bf16 = trained("fp32"), trained("bf16")
    weights = [torch.cat([p.detach().flatten() for p in a.model.policy.parameters()]) for a in (fp32, bf16)]
    assert {p.dtype for p in bf16.model.policy.parameters()} == {torch.float32}
    assert not torch.equal(weights[0], weights[1])  # the updates ran in bf16
    assert all(torch.isfinite(w).all() for w in weights)
    obs = gym.make("Pendulum-v1").reset(seed=0)[0]
    assert bf16.predict(obs, deterministic=True).dtype == np.float32


def test_a_study_records_its_precision_and_refuses_to_mix(tmp_path):
    study = StudySpec("p", ("Pendulum-v1",), ("td3",), (0,), **TINY)
    spec = dataclasses.replace(study.expand()[0], precision="bf16")
    assert execute(spec, tmp_path)["status"] == "complete"
    assert rundir.read_record(spec.run_dir(tmp_path)).precision == "bf16"
    # The run is complete at bf16: the same study at fp32 would compare arms computed differently.
    with pytest.raises(UsageError, match="--precision fp32: the study's existing runs used bf16"):
        make_plan(StudySpec("p", ("Pendulum-v1",), ("td3", "sb3-td3"), (0,), **TINY), tmp_path, 1, 1, estimate=False)
    plan = make_plan(study, tmp_path, 1, 1, estimate=False, precision="bf16")
    assert plan.precision == "bf16" and not plan.to_run
    with pytest.raises(UsageError, match="different precisions"):
        choose("fp32", ["fp32", "bf16"])
    with pytest.raises(UsageError, match="--precision 'fp16'; accepted: fp32, bf16"):
        choose("fp16", [])


def test_an_arm_that_cannot_run_bf16_is_refused_by_name(tmp_path):
    study = StudySpec("p", ("Pendulum-v1",), ("td3", "tests.own_agents:Minimal"), (0,), **TINY)
    with pytest.raises(UsageError, match=r"tests.own_agents:Minimal offer\(s\) no set_precision"):
        make_plan(study, tmp_path, 1, 1, estimate=False, precision="bf16")
    assert make_plan(study, tmp_path, 1, 1, estimate=False).precision == "fp32"


def test_the_plan_warns_where_bf16_is_not_faster():
    assert "warning: bf16 is not faster on this CPU" in Probe(fp32=80.0, bf16=60.0).describe("bf16")
    assert Probe(fp32=80.0, bf16=180.0).describe("bf16").startswith("precision bf16: the updates' matrix products")
    assert "would run the updates' products at bf16 180" in Probe(fp32=80.0, bf16=180.0).describe("fp32")


def _saturated_gradient(actor: torch.nn.Module, last: torch.nn.Linear, obs_dim: int, context) -> float:
    with torch.no_grad():
        last.bias.fill_(4.0)  # tanh(4) = 0.99933: exactly 1.0 once rounded to bf16
    actor.zero_grad()
    with context:
        actions = actor(torch.zeros(8, obs_dim))
    actions.float().sum().backward()
    return float(last.weight.grad.abs().max())


def test_an_actor_at_its_action_bound_still_gets_a_gradient_in_bf16():
    """A tanh computed in bf16 rounds to exactly 1 once saturated and passes back a zero gradient: an actor
    that reached an action bound could never leave it (both arms scored -1.0 on ProbeActionScale-v0 in bf16,
    their actions pinned at the bounds, against 1.0 in fp32). Only the products run in bf16."""
    agent = _agent("bf16")
    last = [m for m in agent.actor.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert _saturated_gradient(agent.actor, last, 3, agent._update_precision()) > 0
    sb3 = get_arm("sb3-td3")
    config = dataclasses.replace(resolve.resolve(sb3, "Pendulum-v1").config, net_arch=(32, 32))
    model_agent = sb3.build(gym.make("Pendulum-v1"), config, 0, "cpu")
    model_agent.set_precision("bf16")
    actor = model_agent.model.policy.actor
    last = [m for m in actor.modules() if isinstance(m, torch.nn.Linear)][-1]
    from harness.agents.precision import autocast

    assert _saturated_gradient(actor, last, 3, autocast("bf16")) > 0
    model_agent.set_precision("fp32")  # the hooks go with bf16
    assert not any(m._forward_hooks for m in actor.modules())
