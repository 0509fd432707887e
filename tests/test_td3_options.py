"""Our TD3's exploration options: NoisyNets, exploration-noise decay, the episode-length curriculum."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from custom_td3 import TD3, TD3Config
from custom_td3.noisy import NoisyLinear, factorized_noise, perturbed
from custom_td3.schedules import constant, episode_step_cap, exponential, linear
from harness.config.resolve import parse_override
from harness.config.schema import build_config
from harness.errors import ConfigError

import tiny_envs  # noqa: F401  (registers TinyPoint-v0: 50-step episodes, never terminates)
from td3_state import tensors

SMALL = dict(net_arch=(16, 16), batch_size=16, buffer_size=2000, learning_starts=20)
NOISY = dict(noisy_nets=True, noise_type=None)
CURRICULUM = dict(episode_length_schedule=((2, 5), (3, 10), (None, 20)))
SCHEDULE_ACCEPTED = (
    "one of null, [[until_episode, max_steps], ..., [null, max_steps]] with increasing "
    "until_episode >= 1 and max_steps >= 1"
)


@pytest.fixture(autouse=True)
def one_thread():
    """Networks this small run fastest on one thread, more so on a machine busy with other work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class EpisodeLengths(gym.Wrapper):
    """Records how many steps each episode took, as the training loop ran it."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.lengths: list[int] = []

    def reset(self, **kwargs):
        self.lengths.append(0)
        return self.env.reset(**kwargs)

    def step(self, action):
        self.lengths[-1] += 1
        return self.env.step(action)


def make(seed=0, **overrides):
    env = EpisodeLengths(gym.make("TinyPoint-v0"))
    env.reset(seed=seed)
    env.lengths.clear()
    return TD3(env, TD3Config(**{**SMALL, **overrides}), seed=seed)


def noisy_layers(net):
    return [m for m in net.modules() if isinstance(m, NoisyLinear)]


# ------------------------------------------------------------------ NoisyNets layer
def test_noisy_layer_initialisation_follows_the_paper():
    torch.manual_seed(0)
    layer = NoisyLinear(16, 3, sigma0=0.5)
    assert layer.weight_mu.shape == layer.weight_sigma.shape == (3, 16)
    assert layer.bias_mu.shape == layer.bias_sigma.shape == (3,)
    assert torch.all(layer.weight_sigma == 0.125) and torch.all(layer.bias_sigma == 0.125)  # 0.5 / sqrt(16)
    for mu in (layer.weight_mu, layer.bias_mu):
        assert mu.abs().max() <= 0.25 and mu.std() > 0.05  # U(-1/4, 1/4), not constant


def test_factorized_noise_is_sgn_sqrt_of_unit_gaussians():
    draw = factorized_noise(5, torch.Generator().manual_seed(3), torch.device("cpu"))
    x = torch.randn(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(draw.sign(), x.sign())
    torch.testing.assert_close(draw.square(), x.abs())  # |f(x)| = sqrt(|x|)
    assert not torch.allclose(draw.abs(), x.abs())


def test_noisy_layer_uses_factorized_noise_only_inside_perturbed():
    torch.manual_seed(0)
    layer = NoisyLinear(4, 3, sigma0=0.5)
    x = torch.randn(7, 4)
    mean = F.linear(x, layer.weight_mu, layer.bias_mu)
    assert torch.equal(layer(x), mean)

    gen = torch.Generator().manual_seed(1)
    with perturbed(layer, gen):
        eps_in, eps_out = layer.noise
        assert eps_in.shape == (4,) and eps_out.shape == (3,)  # p + q draws, not p * q
        noisy = layer(x)
    expected_eps_in = factorized_noise(4, torch.Generator().manual_seed(1), torch.device("cpu"))
    assert torch.equal(eps_in, expected_eps_in)  # drawn from the caller's generator, inputs first
    weight = layer.weight_mu + layer.weight_sigma * torch.outer(eps_out, eps_in)
    torch.testing.assert_close(noisy, x @ weight.T + layer.bias_mu + layer.bias_sigma * eps_out)
    assert (noisy - mean).abs().max() > 1e-3
    assert layer.noise is None and torch.equal(layer(x), mean)  # back to the mean weights


def test_noisy_actor_explores_through_its_weights_and_predicts_with_the_mean():
    agent = make(**NOISY)
    assert len(noisy_layers(agent.actor)) == 3 and not noisy_layers(agent.critic)
    assert len(noisy_layers(agent.actor_target)) == 3
    obs = np.array([2.0], dtype=np.float32)
    with torch.no_grad():
        mean = agent.actor(torch.as_tensor(obs)[None])[0].numpy()
    deterministic = agent.predict(obs)
    np.testing.assert_allclose(deterministic, mean, rtol=0, atol=1e-6)  # weight noise would move it by ~1e-2
    rng_state = agent.rng.bit_generator.state
    exploring = np.array([agent.predict(obs, deterministic=False)[0] for _ in range(20)])
    assert agent.rng.bit_generator.state == rng_state  # no action noise drawn
    assert np.std(exploring) > 1e-3 and len(set(exploring.tolist())) == 20  # fresh weight noise per action
    assert np.array_equal(agent.predict(obs), deterministic)


def test_noisy_exploration_comes_from_the_agents_seeded_generator():
    obs = np.array([1.0], dtype=np.float32)
    a, b = make(seed=3, **NOISY), make(seed=3, **NOISY)
    start = a.noise_gen.get_state()
    actions = []
    for agent, global_seed in ((a, 1), (b, 2)):
        torch.manual_seed(global_seed)  # torch's global generator plays no part
        actions.append([agent.predict(obs, deterministic=False)[0] for _ in range(5)])
    assert actions[0] == actions[1]
    assert not torch.equal(a.noise_gen.get_state(), start)
    a.noise_gen.set_state(start)
    assert a.predict(obs, deterministic=False)[0] == actions[0][0]


# ------------------------------------------------------------------ schedules
def test_noise_schedules_by_hand():
    assert constant(0.4, 0.1, 100, 70) == 0.4
    assert [linear(0.4, 0.1, 100, t) for t in (0, 100, 150)] == [0.4, 0.1, 0.1]
    assert linear(0.4, 0.1, 100, 50) == pytest.approx(0.25)
    assert linear(0.4, 0.0, 200, 150) == pytest.approx(0.1)
    assert [exponential(0.4, 0.1, 100, t) for t in (0, 100, 150)] == [0.4, 0.1, 0.1]
    assert exponential(0.4, 0.1, 100, 50) == pytest.approx(0.2)  # 0.4 * 0.25 ** 0.5
    assert exponential(0.4, 0.1, 100, 25) == pytest.approx(0.4 / math.sqrt(2))  # 0.4 * 0.25 ** 0.25
    assert exponential(0.8, 0.1, 300, 200) == pytest.approx(0.2)  # halves every 100 steps


def test_episode_step_cap_by_hand():
    schedule = ((2, 3), (4, 5), (None, 7))
    assert [episode_step_cap(schedule, e) for e in range(7)] == [3, 3, 5, 5, 7, 7, 7]
    assert episode_step_cap(((None, 9),), 1000) == 9


@pytest.mark.parametrize("schedule, t, std", [("constant", 60, 0.4), ("linear", 60, 0.25), ("exponential", 60, 0.2)])
def test_action_noise_uses_the_scheduled_std(schedule, t, std):
    agent = make(noise_std=0.4, noise_std_final=0.1, noise_decay_steps=120, learning_starts=40, noise_schedule=schedule)
    agent.learn(t)  # the std is a function of the env steps taken, warm-up included
    assert agent.exploration_std() == pytest.approx(std)
    obs = np.array([0.5], dtype=np.float32)
    expected_rng = np.random.default_rng()
    expected_rng.bit_generator.state = agent.rng.bit_generator.state
    noisy = agent.predict(obs, deterministic=False)
    expected = np.clip(agent.predict(obs) + expected_rng.normal(0.0, std, (1,)), -1.0, 1.0)
    np.testing.assert_allclose(noisy, expected, rtol=1e-6)


# ------------------------------------------------------------------ curriculum
def test_curriculum_caps_training_episodes_and_truncates():
    agent = make(**CURRICULUM, learning_starts=1000, gamma=0.9)
    agent.learn(60)
    assert agent.env.lengths == [5, 5, 10, 20, 20]
    assert agent.num_episodes == 5 and agent.episode_steps == 0
    buf = agent.buffer
    assert not buf.dones[:60].any()  # a cap is a truncation: every transition bootstraps
    assert np.allclose(buf.discounts[:60], 0.9)
    for last in (4, 9, 19):  # the last step of each capped episode keeps its true next observation
        moved = np.clip(buf.observations[last] + buf.actions[last], -10, 10)
        np.testing.assert_allclose(buf.next_observations[last], moved, rtol=0, atol=1e-5)
        assert not np.array_equal(buf.next_observations[last], buf.observations[last + 1])  # a reset followed


def test_curriculum_cannot_lengthen_episodes_nor_touch_evaluation():
    agent = make(episode_length_schedule=((1, 3), (None, 80)), learning_starts=1000)
    agent.learn(103)
    assert agent.env.lengths == [3, 50, 50]  # TinyPoint's own 50-step time limit still applies
    eval_env = gym.make("TinyPoint-v0")
    obs, _ = eval_env.reset(seed=5)
    steps, over = 0, False
    while not over:
        obs, _, terminated, truncated, _ = eval_env.step(agent.predict(obs))
        steps, over = steps + 1, terminated or truncated
    assert steps == 50


# ------------------------------------------------------------------ config
@pytest.mark.parametrize(
    "key, value, accepted",
    [
        ("episode_length_schedule", ((50, 1000),), SCHEDULE_ACCEPTED),  # not open-ended
        ("episode_length_schedule", ((100, 5), (50, 10), (None, 20)), SCHEDULE_ACCEPTED),  # not increasing
        ("episode_length_schedule", ((None, 0),), SCHEDULE_ACCEPTED),
        ("episode_length_schedule", ((None, 10), (None, 20)), SCHEDULE_ACCEPTED),
        ("episode_length_schedule", ((0, 10), (None, 20)), SCHEDULE_ACCEPTED),
        ("episode_length_schedule", ((5, 10, 1), (None, 20)), SCHEDULE_ACCEPTED),
        ("episode_length_schedule", (), SCHEDULE_ACCEPTED),
        ("episode_length_schedule", "long", SCHEDULE_ACCEPTED),
        ("noise_schedule", "cosine", "one of 'constant', 'linear', 'exponential'"),
        ("noise_decay_steps", 0, "[1, inf)"),
        ("noise_std_final", -0.1, "[0, inf)"),
        ("noisy_sigma0", -1.0, "[0, inf)"),
        ("noisy_nets", "yes", "one of true, false"),
    ],
)
def test_config_names_key_and_accepted_values(key, value, accepted):
    with pytest.raises(ValueError) as err:
        TD3Config(**{key: value, "noise_type": None})
    assert str(err.value) == f"hyperparameter '{key}' = {value!r} is out of range; accepted: {accepted}"


@pytest.mark.parametrize(
    "values, message",
    [
        (dict(noisy_nets=True), "'noisy_nets' = True needs 'noise_type' = null"),
        (dict(noise_schedule="linear", noise_type=None), "accepted with noise_type 'normal', got noise_type = null"),
        (
            dict(noise_schedule="linear", noise_std=0.1, noise_std_final=0.2),
            "'noise_std_final' = 0.2 is out of range; accepted with noise_schedule 'linear': [0, noise_std = 0.1]",
        ),
        (
            dict(noise_schedule="exponential", noise_std_final=0.0),
            "'noise_std_final' = 0.0 is out of range; accepted with noise_schedule 'exponential': (0, noise_std = 0.1]",
        ),
    ],
)
def test_config_rejects_exploration_settings_that_would_be_ignored(values, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        TD3Config(**values)


def test_options_from_yaml_values_and_hp_overrides():
    cfg = build_config(
        TD3Config,
        dict(
            [
                parse_override("episode_length_schedule=[[50, 1000], [null, 2000]]"),
                parse_override("noisy_nets=true"),
                parse_override("noise_type=null"),
            ]
        ),
        "--hp",
    )
    assert cfg.episode_length_schedule == ((50, 1000), (None, 2000)) and cfg.noisy_nets
    assert TD3Config(episode_length_schedule=[[3, 10], [None, 20]]).episode_length_schedule == ((3, 10), (None, 20))
    with pytest.raises(ConfigError, match="'episode_length_schedule' = \\[\\[50, 1000\\]\\] is out of range"):
        build_config(TD3Config, {"episode_length_schedule": [[50, 1000]]}, "--hp")
    with pytest.raises(ConfigError, match="'episode_length_schedule' is 'long' \\(str\\); accepted: one of null, "):
        build_config(TD3Config, {"episode_length_schedule": "long"}, "--hp")


# ------------------------------------------------------------------ end to end
@pytest.mark.parametrize(
    "options",
    [
        dict(**NOISY, **CURRICULUM),
        dict(noise_schedule="exponential", noise_std=0.3, noise_decay_steps=150, **CURRICULUM),
    ],
    ids=["noisy-curriculum", "decay-curriculum"],
)
def test_resumed_run_equals_uninterrupted_bit_for_bit(tmp_path, options):
    total, cut = 300, 150
    straight = make(**options).learn(total)

    first = make(**options)
    first.learn(total, callback=lambda step: step < cut or not first.at_episode_boundary)
    assert first.num_timesteps == 160 and first.num_episodes == 10  # 5 + 5 + 10 + 20 * 7
    torch.save(first.state_dict(), tmp_path / "ckpt.pt")
    resumed = make(seed=99, **options)  # everything it needs must come from the checkpoint
    resumed.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=False))
    resumed.learn(total)

    assert resumed.num_timesteps == straight.num_timesteps == total
    assert resumed.num_episodes == straight.num_episodes and resumed.episode_steps == straight.episode_steps
    assert resumed.num_updates == straight.num_updates == total - SMALL["learning_starts"]
    assert first.env.lengths + resumed.env.lengths == straight.env.lengths
    ta, tb = tensors(straight), tensors(resumed)
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    assert torch.equal(straight.noise_gen.get_state(), resumed.noise_gen.get_state())
    for key, value in straight.buffer.state_dict().items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, resumed.buffer.state_dict()[key]), key


def test_noisy_learn_trains_sigma_and_save_load_roundtrip(tmp_path):
    agent = make(**NOISY)
    sigma0 = [layer.weight_sigma.detach().clone() for layer in noisy_layers(agent.actor)]
    agent.learn(120)
    assert agent.num_updates == 100 and agent.diagnose() is None
    # The actor update runs under weight noise, so the noise scales get gradients and move.
    assert all(
        (s - layer.weight_sigma).abs().max() > 1e-5 for s, layer in zip(sigma0, noisy_layers(agent.actor), strict=True)
    )

    loaded = TD3.load(agent.save(tmp_path / "model"), gym.make("TinyPoint-v0"))
    assert loaded.config == agent.config and len(noisy_layers(loaded.actor)) == 3
    saved, restored = agent.actor.state_dict(), loaded.actor.state_dict()
    assert saved.keys() == restored.keys() and all(torch.equal(saved[k], restored[k]) for k in saved)
    for x in (-4.0, 0.0, 3.0):
        obs = np.array([x], dtype=np.float32)
        assert np.array_equal(agent.predict(obs), loaded.predict(obs))


def test_decaying_noise_learn_end_to_end():
    agent = make(noise_schedule="linear", noise_std=0.5, noise_std_final=0.05, noise_decay_steps=100)
    agent.learn(150)
    assert agent.num_updates == 130 and agent.diagnose() is None
    assert agent.exploration_std() == 0.05
