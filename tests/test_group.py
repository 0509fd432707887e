"""Seed groups: K members of our TD3 trained by one batched update, each learning what it learns alone."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from custom_td3 import TD3, TD3Config, TrainingDiverged
from custom_td3.group import TD3Group

import tiny_envs  # noqa: F401  (registers TinyPoint-v0, HugePoint-v0)
from td3_state import tensors

SMALL = dict(net_arch=(32, 32), batch_size=32, buffer_size=3000, learning_starts=100, gamma=0.98)
NETS = ("actor", "critic", "actor_target", "critic_target")


def env(seed, env_id="Pendulum-v1"):
    e = gym.make(env_id)
    e.reset(seed=seed)
    return e


def single(seed, config, env_id="Pendulum-v1"):
    return TD3(env(seed, env_id), config, seed=seed)


def assert_identical(a, b):
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    unequal = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not unequal, unequal[:5]


def assert_close(a, b, rtol=1e-5):
    """Every parameter of every network of ``a`` within rtol of ``b``, relative to the network's largest
    parameter (a bias near 0 carries the same absolute rounding as the weights beside it)."""
    for net in NETS:
        pa, pb = dict(getattr(a, net).named_parameters()), dict(getattr(b, net).named_parameters())
        scale = max(p.abs().max().item() for p in pb.values())
        worst = max((pa[n] - pb[n]).abs().max().item() for n in pb)
        assert worst <= rtol * scale, f"{net}: max difference {worst:.3g} against scale {scale:.3g}"
    assert a.num_updates == b.num_updates and a.num_timesteps == b.num_timesteps


def test_one_member_in_loop_mode_is_the_single_agent_bit_for_bit():
    config = TD3Config(**SMALL, prioritized=True, n_steps=3)
    alone = single(0, config).learn(300)
    group = TD3.group([env(0)], config, [0], products="loop").learn(300)
    assert_identical(group.members[0], alone)
    assert np.array_equal(group.members[0].buffer.tree.nodes, alone.buffer.tree.nodes)
    assert group.members[0].num_updates == alone.num_updates == 200


@pytest.mark.parametrize(
    "options",
    [dict(), dict(prioritized=True), dict(n_steps=3), dict(noisy_nets=True, noise_type=None)],
    ids=["uniform", "per", "3-step", "noisy"],
)
def test_batched_updates_equal_each_members_own_train_on_the_same_minibatches(options):
    """Two groups identical to their single agents (loop mode) to step 250; then one runs two env steps
    (two updates: one critic-only, one with the actor step and Polyak) batched, the other through each
    member's own train(). The minibatches are the same: each member draws from its own rng and buffer."""
    config = TD3Config(**SMALL, **options)
    batched, loop = (TD3.group([env(k) for k in range(3)], config, range(3), products="loop") for _ in range(2))
    batched.learn(250)
    loop.learn(250)
    assert_identical(batched.members[1], loop.members[1])
    batched.products = "batched"
    batched.learn(252)
    loop.learn(252)
    for b, m in zip(batched.members, loop.members, strict=True):
        assert_close(b, m, rtol=2e-6)
        torch.testing.assert_close(tensors(b), tensors(m), rtol=1e-5, atol=1e-7)  # Adam's moments too
        assert b.rng.bit_generator.state == m.rng.bit_generator.state
        assert torch.equal(b.noise_gen.get_state(), m.noise_gen.get_state())
        if options.get("prioritized"):  # priorities of the same slots, from each member's own TD errors
            np.testing.assert_allclose(b.buffer.tree.nodes, m.buffer.tree.nodes, rtol=1e-5)
            assert b.buffer.tree.nodes.max() > 0 and len(np.unique(b.buffer.tree.get(np.arange(200)))) > 10


@pytest.mark.long
def test_each_member_learns_what_its_seed_learns_alone_uniform_3_step():
    """Uniform + 3-step over 300 updates, tanh networks: with ReLU a unit dead on one side and not on the
    other turns a rounding difference into a full Adam step (measured with the oneDNN backend on a Zen 5:
    the actor 3.8e-4 apart, against 2.4e-7 with tanh; see the PER test below)."""
    config = TD3Config(**SMALL, n_steps=3, activation_fn="tanh")
    alone = [single(k, config).learn(400) for k in range(3)]
    group = TD3.group([env(k) for k in range(3)], config, range(3)).learn(400)
    for member, agent in zip(group.members, alone, strict=True):
        assert_close(member, agent)
        assert member.num_updates == 300
    # Members differ from one another: each has its own seed, not a copy of member 0.
    assert not torch.equal(group.members[0].actor.mu[0].weight, group.members[1].actor.mu[0].weight)


@pytest.mark.long
def test_each_member_learns_what_its_seed_learns_alone_per_3_step(monkeypatch):
    """PER + 3-step over 300 updates. Two things make runs that differ by fp32 rounding part ways, in a
    group or between two matmul backends alike: a priority moved by ~1e-7 eventually picks another slot
    in one stratum, and a ReLU unit that is dead on one side gets a rounding-level gradient on the other,
    which Adam scales to a full step (lr). So the group's slots are handed to the single agents' sum
    trees (and counted: the single agent picks the same ones), and the networks use tanh; weights,
    targets, losses, priorities and Adam stay each side's own computation."""
    config = TD3Config(**SMALL, prioritized=True, n_steps=3, activation_fn="tanh")
    group = TD3.group([env(k) for k in range(3)], config, range(3))
    chosen = [[] for _ in range(3)]
    for k, member in enumerate(group.members):
        find = member.buffer.tree.find

        def recording(values, find=find, out=chosen[k]):
            out.append(find(values))
            return out[-1]

        monkeypatch.setattr(member.buffer.tree, "find", recording)
    group.learn(400)
    for k in range(3):
        agent = single(k, config)
        replay, own = iter(chosen[k]), agent.buffer.tree.find
        flips = []

        def replaying(values, own=own, replay=replay, flips=flips):
            mine, theirs = own(values), next(replay)
            flips.append(int((mine != theirs).sum()))
            return theirs

        agent.buffer.tree.find = replaying
        agent.learn(400)
        assert_close(group.members[k], agent)
        np.testing.assert_allclose(group.members[k].buffer.tree.nodes, agent.buffer.tree.nodes, rtol=1e-4)
        assert len(flips) == 300 and sum(flips) <= 3, flips  # the single agent would pick the same slots


def test_a_diverging_member_is_recorded_and_the_others_go_on():
    """Member 1 sees a reward of -1e30 after step 150 of each episode: its critic loss overflows."""
    config = TD3Config(**SMALL)
    ids = ["TinyPoint-v0", "HugePoint-v0", "TinyPoint-v0"]
    group = TD3Group([single(k, config, ids[k]) for k in range(3)])
    seen = []
    group.learn(400, lambda k, step: seen.append((k, step)) or True)
    with pytest.raises(TrainingDiverged) as raised:
        single(1, config, "HugePoint-v0").learn(400)
    assert group.diverged == {1: str(raised.value)}
    assert str(raised.value).startswith("critic loss is inf at update")
    assert group.active == [0, 2]
    steps_1 = [s for k, s in seen if k == 1]
    assert max(steps_1) < 400 and group.members[1].num_timesteps == max(steps_1) + 1  # no callback at the fault
    assert torch.isfinite(group.members[1].actor.mu[0].weight).all()  # the bad update was not applied
    for k in (0, 2):
        assert_close(group.members[k], single(k, config, ids[k]).learn(400))


@pytest.mark.long
def test_the_callback_stops_one_member_and_a_later_call_continues_it():
    config = TD3Config(**SMALL)
    group = TD3.group([env(k) for k in range(3)], config, range(3))
    group.learn(300, lambda k, step: not (k == 1 and step >= 200))
    assert [m.num_timesteps for m in group.members] == [300, 200, 300]
    assert_close(group.members[0], single(0, config).learn(300))
    assert_close(group.members[1], single(1, config).learn(200))
    group.learn(300)
    assert_close(group.members[1], single(1, config).learn(300), rtol=2e-5)
    assert group.active == [0, 1, 2] and group.diverged == {}


def test_a_member_saves_and_checkpoints_as_an_ordinary_td3(tmp_path):
    config = TD3Config(**SMALL)
    group = TD3.group([env(k) for k in range(3)], config, range(3))
    sizes = {}

    def save_mid_run(k, step):
        if step == 200:  # the members' weights are views into the group's stacked tensors here
            sizes[k] = group.members[k].save(tmp_path / f"mid{k}").stat().st_size
            torch.save(group.members[k].state_dict(), tmp_path / f"ckpt{k}.pt")
        return True

    group.learn(300, save_mid_run)
    alone = single(1, config)
    alone.learn(200)
    (tmp_path / "alone").mkdir()
    # One member's weights, not the stack's (the same name: torch.save writes it into the archive).
    assert sizes[1] == alone.save(tmp_path / "alone" / "mid1").stat().st_size
    resumed = single(7, config)
    resumed.load_state_dict(torch.load(tmp_path / "ckpt1.pt", weights_only=False))
    assert_close(resumed, alone)
    resumed.learn(300)  # a checkpoint of a member resumes as a single agent
    assert_close(resumed, group.members[1], rtol=2e-5)

    path = group.members[2].save(tmp_path / "model")
    loaded = TD3.load(path, env(0))
    obs = np.array([1.0, 0.0, 0.5], dtype=np.float32)
    assert np.array_equal(loaded.predict(obs), group.members[2].predict(obs))
    assert not np.array_equal(loaded.predict(obs), group.members[0].predict(obs))


def test_bad_group_input_is_named():
    config = TD3Config(**SMALL)
    with pytest.raises(ValueError, match="products = 'fast'; accepted: 'batched', 'loop'"):
        TD3.group([env(0)], config, [0], products="fast")
    with pytest.raises(ValueError, match="2 envs for 1 seeds"):
        TD3.group([env(0), env(1)], config, [0])
    with pytest.raises(ValueError, match="one config"):
        TD3Group([single(0, config), single(1, TD3Config(**{**SMALL, "gamma": 0.9}))])
    group = TD3.group([env(0)], config, [0])
    group.remove(0)
    with pytest.raises(ValueError, match="member 0 is not in the group"):
        group.remove(0)


def test_members_due_at_different_steps_mix_batched_and_own_updates():
    """Training once per episode with one gradient step per env step of it (gradient_steps -1), episodes
    of 30 and 50 steps: at steps 150 and 300 both are due: 30 updates run batched and member 1's other 20 through
    its own train(), on the same Adam state. With a linear lr schedule and decaying action noise."""
    config = TD3Config(
        **SMALL,
        train_freq=1,
        train_freq_unit="episode",
        gradient_steps=-1,
        lr_schedule="linear",
        noise_schedule="linear",
        noise_decay_steps=300,
    )

    def agent(k):
        e = gym.make("TinyPoint-v0", max_episode_steps=(30, 50)[k])
        e.reset(seed=k)
        return TD3(e, config, seed=k)

    group = TD3Group([agent(0), agent(1)])
    calls = {"batched": 0, "own": 0}
    batched, own = group._batched_update, group._member_update
    group._batched_update = lambda betas: calls.__setitem__("batched", calls["batched"] + 1) or batched(betas)
    group._member_update = lambda k, beta: calls.__setitem__("own", calls["own"] + 1) or own(k, beta)
    group.learn(300)
    assert calls == {"batched": 60, "own": 210 - 60 + 200 - 60}  # 30 batched at steps 150 and 300
    for k in range(2):
        alone = agent(k).learn(300)
        assert_close(group.members[k], alone)
        assert (
            group.members[k].num_updates == alone.num_updates == (210 if k == 0 else 200)
        )  # rounds after learning_starts
        assert group.members[k].actor_optimizer.param_groups[0]["lr"] == alone.actor_optimizer.param_groups[0]["lr"]


@pytest.mark.long
def test_a_bf16_group_runs_its_products_in_bf16_like_the_single_agent():
    config = TD3Config(**SMALL)
    group = TD3.group([env(k) for k in range(2)], config, range(2), products="loop")
    group.learn(150)
    reference = [single(k, config).learn(150) for k in range(2)]
    for m in (*group.members, *reference):
        m.set_precision("bf16")
    group.products = "batched"
    group.learn(152)
    for member, alone in zip(group.members, reference, strict=True):
        alone.learn(152)
        assert_close(member, alone, rtol=1e-3)  # bf16 operands: rounding of 2**-8 in every product
        assert member.last_losses["critic_loss"].dtype == torch.float32
    fp32 = TD3.group([env(k) for k in range(2)], config, range(2)).learn(152)
    worst = (fp32.members[0].critic.qf0[0].weight - group.members[0].critic.qf0[0].weight).abs().max().item()
    assert worst > 1e-6  # the products did run in bf16
