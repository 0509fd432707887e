import inspect

import pytest
from sb3_contrib import TQC
from stable_baselines3 import DDPG, SAC, TD3

from harness.agents.sb3 import SB3DDPGConfig, SB3SACConfig, SB3TD3Config, SB3TQCConfig, sb3_kwargs
from harness.config.schema import as_plain, build_config
from harness.errors import ConfigError


def test_defaults_are_sb3_library_defaults():
    for config_cls, algo in ((SB3TD3Config, TD3), (SB3DDPGConfig, DDPG), (SB3SACConfig, SAC), (SB3TQCConfig, TQC)):
        signature = inspect.signature(algo.__init__).parameters
        for name, value in as_plain(config_cls()).items():
            if name in signature:
                assert signature[name].default == value, (config_cls.__name__, name)


def test_valid_values_are_coerced():
    config = build_config(SB3TD3Config, {"buffer_size": 1e6, "gamma": 1, "net_arch": [64, 64]}, "test")
    assert config.buffer_size == 1_000_000 and isinstance(config.buffer_size, int)
    assert config.gamma == 1.0 and isinstance(config.gamma, float)
    assert config.net_arch == (64, 64)


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"gamma": 1.5}, "'gamma' = 1.5 is out of range; accepted: a float in [0, 1]"),
        ({"batch_size": 0}, "'batch_size' = 0 is out of range; accepted: an integer in [1, inf)"),
        ({"buffer_size": -5}, "'buffer_size' = -5 is out of range"),
        ({"tau": 0}, "accepted: a float in (0, 1]"),
        ({"batch_size": 2.5}, "'batch_size' is 2.5 (float); accepted: an integer"),
        ({"learning_rate": "fast"}, "'learning_rate' is 'fast' (str); accepted: a float"),
        ({"noise_type": "gaussian"}, "accepted: one of null, 'normal', 'ornstein-uhlenbeck'"),
        ({"net_arch": [64, 0]}, "'net_arch' = [64, 0] is out of range"),
        ({"gradient_steps": 0}, "accepted: an integer in [1, inf) or -1"),
        ({"use_sde": True}, "unknown hyperparameter 'use_sde'"),
        ({"learning_rat": 1e-3}, "Did you mean: learning_rate"),
    ],
)
def test_bad_values_name_key_and_accepted(values, fragment):
    with pytest.raises(ConfigError) as err:
        build_config(SB3TD3Config, values, "file.yml, env Pendulum-v1")
    assert str(err.value).startswith("file.yml, env Pendulum-v1: ")
    assert fragment in str(err.value)


def test_ddpg_refuses_td3_only_keys():
    with pytest.raises(ConfigError, match="unknown hyperparameter 'policy_delay' for SB3DDPGConfig"):
        build_config(SB3DDPGConfig, {"policy_delay": 2}, "x")


@pytest.mark.parametrize(
    "value, ok",
    [("auto", True), ("auto_0.1", True), (0.05, True), ("automatic", False), ("auto_x", False), (True, False)],
)
def test_sac_entropy_setting(value, ok):
    if ok:
        assert build_config(SB3SACConfig, {"ent_coef": value}, "x").ent_coef == value
    else:
        with pytest.raises(ConfigError, match="accepted: 'auto', 'auto_<float>' or a number"):
            build_config(SB3SACConfig, {"ent_coef": value}, "x")


def test_gradient_steps_minus_one_is_accepted():
    assert build_config(SB3TD3Config, {"gradient_steps": -1}, "x").gradient_steps == -1


def test_sb3_kwargs_translate_typed_config():
    import gymnasium as gym
    import torch
    from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise
    from stable_baselines3.common.utils import LinearSchedule

    config = build_config(
        SB3TD3Config,
        {
            "lr_schedule": "linear",
            "learning_rate": 7e-4,
            "train_freq": 2,
            "train_freq_unit": "episode",
            "noise_type": "ornstein-uhlenbeck",
            "activation_fn": "tanh",
            "net_arch": [8],
        },
        "x",
    )
    kwargs = sb3_kwargs(config, gym.spaces.Box(-1, 1, shape=(3,)))
    assert isinstance(kwargs["learning_rate"], LinearSchedule)
    assert kwargs["learning_rate"](1.0) == pytest.approx(7e-4) and kwargs["learning_rate"](0.5) == pytest.approx(3.5e-4)
    assert kwargs["train_freq"] == (2, "episode")
    assert isinstance(kwargs["action_noise"], OrnsteinUhlenbeckActionNoise)
    assert kwargs["policy_kwargs"] == {"net_arch": [8], "activation_fn": torch.nn.Tanh}
    assert "noise_type" not in kwargs and "lr_schedule" not in kwargs


def test_our_td3_defaults_are_sb3_td3s_where_its_docstring_says():
    """custom_td3.TD3Config: 'Defaults are SB3 TD3's, except exploration noise (the paper's N(0, 0.1))'."""
    import gymnasium as gym
    import torch

    from custom_td3 import TD3Config

    assert "Defaults are SB3 TD3's, except exploration noise" in TD3Config.__doc__
    ours, signature = as_plain(TD3Config()), inspect.signature(TD3.__init__).parameters
    shared = [name for name in ours if name in signature]
    assert {
        "learning_rate",
        "buffer_size",
        "learning_starts",
        "batch_size",
        "tau",
        "gamma",
        "train_freq",
        "gradient_steps",
        "policy_delay",
        "target_policy_noise",
        "target_noise_clip",
        "n_steps",
    } <= set(shared)
    for name in shared:
        assert ours[name] == signature[name].default, name
    assert ours["train_freq_unit"] == "step" and ours["lr_schedule"] == "constant"  # SB3: train_freq=1, a float rate
    sb3 = TD3("MlpPolicy", gym.make("Pendulum-v1"), device="cpu")  # SB3's policy defaults: widths and activation
    widths = tuple(m.out_features for m in sb3.actor.mu if isinstance(m, torch.nn.Linear))[:-1]
    assert widths == tuple(ours["net_arch"]) == (400, 300)
    assert sb3.policy.activation_fn is torch.nn.ReLU and ours["activation_fn"] == "relu"
    # The documented exception: SB3 explores with no action noise unless given one; ours with N(0, 0.1).
    assert signature["action_noise"].default is None and (ours["noise_type"], ours["noise_std"]) == ("normal", 0.1)


def test_sb3_configs_take_td3s_shared_fields_from_our_td3_config():
    """One schema: a field both sides have carries our TD3's help, accepted values and check."""
    import dataclasses

    from custom_td3 import TD3Config

    ours = {f.name: f for f in dataclasses.fields(TD3Config)}
    for f in dataclasses.fields(SB3TD3Config):
        if f.name in ours and f.name not in ("noise_type", "noise_std"):
            assert f.metadata["help"] == ours[f.name].metadata["help"], f.name
            assert f.metadata["check"] is ours[f.name].metadata["check"], f.name
            assert f.default == ours[f.name].default, f.name
