"""The probe envs: ordinary env ids, and the answers their docstrings state, computed from the envs' own steps."""

import itertools

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from harness.run import probe_envs
from harness.run.envs import make_env, resolve_env_id


def _episode(env_id, actions, seed=0):
    """(observations, rewards, terminated, truncated) of one episode of the registered env, acting ``actions``."""
    env = make_env(env_id)
    obs, _ = env.reset(seed=seed)
    observations, rewards = [obs], []
    for action in itertools.cycle(actions):
        obs, reward, terminated, truncated, _ = env.step(np.asarray(action, np.float32))
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            return observations, rewards, terminated, truncated


@pytest.mark.filterwarnings("ignore:.*symmetric and normalized space")  # ProbeActionScale-v0's point
@pytest.mark.parametrize("env_id", probe_envs.PROBE_IDS)
def test_every_probe_is_an_env_id_the_factory_makes(env_id):
    assert resolve_env_id(env_id) == env_id
    env = make_env(env_id)
    check_env(env.unwrapped, skip_render_check=True)  # gymnasium's own API checks


def test_one_step_value_envs_pay_their_value_and_terminate():
    observations, rewards, terminated, truncated = _episode("ProbeConstant-v0", [[0.3]])
    assert rewards == [1.0] and terminated and not truncated
    env = probe_envs.ConstantEnv()
    assert env.value(observations[0], 0.0) == env.value(observations[0], 0.9) == 1.0
    seen = set()
    for seed in range(20):
        (first, _), rewards, terminated, _ = _episode("ProbeObsValue-v0", [[-0.7]], seed)
        assert rewards == [float(first[0])] == [probe_envs.ObsValueEnv().value(first, 0.5)] and terminated
        seen.add(float(first[0]))
    assert seen == {-1.0, 1.0}


def test_the_discount_env_pays_at_the_end_and_its_first_value_is_the_discounted_reward():
    observations, rewards, terminated, truncated = _episode("ProbeDiscount-v0", [[0.0]])
    assert rewards == [0.0, 10.0] and terminated and not truncated
    assert np.array_equal(observations[-1], observations[0])  # the terminal observation is the first one again
    env = probe_envs.DiscountEnv()
    for gamma in (0.5, 0.9):
        assert env.value(observations[0], gamma) == pytest.approx(rewards[0] + gamma * rewards[1])
        assert env.value(observations[1], gamma) == rewards[1]


def test_the_time_limit_env_is_truncated_never_terminated_and_its_value_is_the_infinite_sum():
    observations, rewards, terminated, truncated = _episode("ProbeTimeLimit-v0", [[0.0]])
    assert rewards == [10.0] * 4 and truncated and not terminated
    assert np.array_equal(observations[-1], observations[0])  # after the limit the phase starts again
    env = probe_envs.TimeLimitEnv()
    env.reset(seed=0)
    gamma = 0.5
    tail = sum(gamma**t * env.step(np.zeros(1, np.float32))[1] for t in range(200))  # past the limit
    for obs in env.OBSERVATIONS:
        assert env.value(obs, gamma) == pytest.approx(tail) == pytest.approx(20.0)


def test_the_action_scale_env_peaks_at_its_best_action_and_unscaled_actions_end_at_the_edges():
    env = probe_envs.ActionScaleEnv()
    env.reset(seed=0)
    best = env.best_action(env.obs, 0.5)
    assert np.array_equal(best, [4.0, -5.0])
    assert np.all(best > env.action_space.low) and np.all(best < env.action_space.high)

    def reward(action):
        env.reset(seed=0)
        return env.step(np.asarray(action, np.float32))[1]

    grid = np.stack(np.meshgrid(np.linspace(1, 5, 41), np.linspace(-6, -2, 41)), -1).reshape(-1, 2)
    assert np.array_equal(grid[np.argmax([reward(a) for a in grid])], best) and reward(best) == 1.0
    # An agent that sends a in [-1, 1] unscaled is paid best at (1, -1), which its predict maps to (5, -6).
    unit = np.stack(np.meshgrid(np.linspace(-1, 1, 21), np.linspace(-1, 1, 21)), -1).reshape(-1, 2)
    assert np.array_equal(unit[np.argmax([reward(a) for a in unit])], [1.0, -1.0])


def test_the_credit_env_pays_for_this_steps_observation_and_action_only():
    observations, rewards, terminated, truncated = _episode("ProbeCredit-v0", [[0.0]])
    assert len(rewards) == probe_envs.CreditEnv.LENGTH and terminated and not truncated
    assert rewards == pytest.approx([1.0 - 4.0 * (0.8 * float(o[0])) ** 2 for o in observations[:-1]])
    env = probe_envs.CreditEnv()
    env.reset(seed=3)
    for _ in range(3):
        x = env.obs.copy()
        best = env.best_action(x, 0.5)
        assert env.step(best.astype(np.float32))[1] == pytest.approx(1.0)  # the best action earns the most
        assert abs(float(env.obs[0]) - float(x[0])) > 0  # a fresh observation every step


@pytest.mark.parametrize("gamma", [0.5, 0.9])
def test_the_investment_env_best_action_maximizes_reward_now_plus_the_discounted_payback(gamma):
    env = probe_envs.TimeLimitActionEnv()
    _, rewards, terminated, truncated = _episode("ProbeTimeLimitAction-v0", [[0.0]])
    assert len(rewards) == env.PERIOD and truncated and not terminated

    def worth(action, gamma):
        """This step's reward plus gamma times the part of the next one the action caused."""
        env.reset(seed=0)
        now = env.step(np.array([action], np.float32))[1]
        later = env.step(np.array([-1.0], np.float32))[1]
        env.reset(seed=0)
        env.step(np.array([-1.0], np.float32))
        return now + gamma * (later - env.step(np.array([-1.0], np.float32))[1])

    actions = np.linspace(-1, 1, 201)
    assert actions[np.argmax([worth(a, gamma) for a in actions])] == pytest.approx(env.best_action(env.obs, gamma)[0])
    assert actions[np.argmax([worth(a, 0.0) for a in actions])] == pytest.approx(env.cut_action())
    assert env.best_action(env.obs, 0.5)[0] == pytest.approx(0.5) and env.cut_action() == pytest.approx(-0.5)


def test_a_fresh_process_that_imports_only_the_env_factory_makes_every_probe_env():
    """A study's workers are fresh processes that make their envs through the factory: importing it
    registers the probes there (nothing else of this test runs in that process)."""
    import subprocess
    import sys

    code = (
        "from harness.run.envs import make_env; "
        f"print([(make_env(i).spec.id, make_env(i).spec.max_episode_steps) for i in {list(probe_envs.PROBE_IDS)!r}])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str([(i, limit) for i, (_, limit) in probe_envs.PROBES.items()])
