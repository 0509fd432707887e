"""Our TD3: save/load/predict, checkpoints that resume bit for bit, config validation."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from custom_td3 import TD3, TD3Config

from td3_state import tensors

SMALL = dict(net_arch=(32, 32), batch_size=32, buffer_size=3000, learning_starts=200, gamma=0.98)


def make(seed=0, **overrides):
    env = gym.make("Pendulum-v1")
    env.reset(seed=seed)
    return TD3(env, TD3Config(**{**SMALL, **overrides}), seed=seed)


def assert_identical(a, b):
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    unequal = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not unequal, unequal[:5]


@pytest.mark.parametrize("options", [dict(), dict(prioritized=True, n_steps=3)], ids=["uniform", "per-3step"])
def test_resumed_run_equals_uninterrupted_bit_for_bit(tmp_path, options, each_backend):
    total, cut = 1000, 600  # Pendulum episodes are 200 steps: the cut is at an episode boundary
    straight = make(**options).learn(total)

    first = make(**options)
    first.learn(total, callback=lambda step: step < cut)  # stopped as a killed run would be
    assert first.num_timesteps == cut
    torch.save(first.state_dict(), tmp_path / "ckpt.pt")
    resumed = make(seed=99, **options)  # everything it needs must come from the checkpoint
    resumed.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=False))
    resumed.learn(total)

    assert resumed.num_timesteps == straight.num_timesteps == total
    assert resumed.num_updates == straight.num_updates == total - SMALL["learning_starts"]
    assert_identical(resumed, straight)
    sa, sb = straight.buffer.state_dict(), resumed.buffer.state_dict()
    for key, value in sa.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, sb[key]), key


def test_save_load_predict(tmp_path):
    agent = make().learn(400)
    path = agent.save(tmp_path / "model")
    assert path.suffix == ".pt"
    loaded = TD3.load(path, gym.make("Pendulum-v1"))
    obs = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -2.0], [-1.0, 0.0, 8.0]], dtype=np.float32)
    for o in obs:
        a = agent.predict(o, deterministic=True)
        assert np.array_equal(a, loaded.predict(o, deterministic=True))
        assert a.shape == (1,) and -2.0 <= a[0] <= 2.0  # scaled to Pendulum's [-2, 2]
        with torch.no_grad():
            expected = 2.0 * agent.actor(torch.as_tensor(o)[None])[0].numpy()
        np.testing.assert_allclose(a, expected, rtol=1e-6)
    noisy = [agent.predict(obs[0], deterministic=False)[0] for _ in range(20)]
    assert np.std(noisy) > 0


def test_warm_up_is_random_then_learning_starts():
    agent = make(learning_starts=300)
    agent.learn(300)
    assert agent.num_updates == 0 and len(agent.buffer) == 300
    agent.learn(350)
    assert agent.num_updates == 50  # one gradient step per env step after learning_starts


def test_n_step_learning_waits_for_the_first_window():
    agent = make(learning_starts=0, n_steps=3)
    agent.learn(5)
    assert len(agent.buffer) == 3 and agent.num_updates == 3  # steps 3, 4, 5 each emit one window


def test_episode_train_freq_and_all_gradient_steps():
    agent = make(learning_starts=0, train_freq=1, train_freq_unit="episode", gradient_steps=-1)
    agent.learn(399)
    assert agent.num_updates == 200  # one episode of 200 steps finished: 200 updates
    agent.learn(400)
    assert agent.num_updates == 400


@pytest.mark.parametrize(
    "key, value, accepted",
    [
        ("gamma", 1.5, "[0, 1]"),
        ("batch_size", 0, "[1, inf)"),
        ("buffer_size", -1, "[1, inf)"),
        ("per_alpha", 2.0, "[0, 1]"),
        ("noise_type", "ou", "one of null, 'normal'"),
        ("net_arch", (), "[1, inf)"),
    ],
)
def test_config_names_key_and_range(key, value, accepted):
    with pytest.raises(ValueError) as err:
        TD3Config(**{key: value})
    assert str(err.value) == f"hyperparameter '{key}' = {value!r} is out of range; accepted: {accepted}"


def test_a_failed_actor_step_leaves_the_critic_trainable():
    """The actor step freezes the critic's weights for dQ/da; an error inside it must not leave them frozen."""
    from custom_td3 import TrainingDiverged

    agent = make(learning_starts=50, policy_delay=1)
    agent.learn(50)
    agent.critic.q1 = lambda obs, action: torch.full(
        (obs.shape[0], 1), float("nan")
    )  # only the actor loss uses Q1 alone
    with pytest.raises(TrainingDiverged, match="actor loss is nan"):
        agent.learn(51)
    assert agent.num_updates == 1  # the critic step ran, the actor step raised
    assert all(p.requires_grad for p in agent.critic.parameters())


def test_saved_model_loads_without_unpickling_code(tmp_path):
    """Models may come from a shared store: TD3.load accepts tensors, plain data and numpy arrays only."""
    import pickle

    agent = make()
    path = agent.save(tmp_path / "model")
    assert isinstance(TD3.load(path, gym.make("Pendulum-v1")), TD3)
    torch.save({"config": {}, "actor": {}, "payload": pickle.loads(pickle.dumps(print))}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match="print was not an allowed global"):
        TD3.load(tmp_path / "evil.pt", gym.make("Pendulum-v1"))
