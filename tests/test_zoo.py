from importlib import resources

import pytest
import yaml

from harness.config import yamlio, zoo
from harness.errors import ConfigError


def test_policy_kwargs_parsed_without_eval():
    assert zoo.parse_kwargs("dict(net_arch=[400, 300])", "x") == {"net_arch": [400, 300]}
    assert zoo.parse_kwargs("dict(log_std_init=-3, net_arch=[64, 64], activation_fn=nn.Tanh)", "x") == {
        "log_std_init": -3,
        "net_arch": [64, 64],
        "activation_fn": "tanh",
    }
    assert zoo.parse_kwargs("{'n_critics': 1, 'net_arch': [8]}", "x") == {"n_critics": 1, "net_arch": [8]}


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "dict(a=open('f'))", "[1, 2]", "dict(a="])
def test_policy_kwargs_refuses_code(text):
    with pytest.raises(ConfigError, match="policy_kwargs"):
        zoo.parse_kwargs(text, "td3.yml [X]")


def test_schedules():
    assert zoo.parse_schedule("lin_7e-4", "x") == {"learning_rate": 7e-4, "lr_schedule": "linear"}
    assert zoo.parse_schedule(1e-3, "x") == {"learning_rate": 1e-3, "lr_schedule": "constant"}
    with pytest.raises(ConfigError, match="accepted: a float or 'lin_<float>'"):
        zoo.parse_schedule("cos_1e-3", "x")


def test_lookup_reads_the_installed_zoo_file():
    raw = yaml.load((resources.files("rl_zoo3") / "hyperparams" / "td3.yml").read_text(), Loader=yaml.UnsafeLoader)
    entry = zoo.lookup("td3", "Pendulum-v1")
    assert entry.n_timesteps == int(raw["Pendulum-v1"]["n_timesteps"]) == 20000
    for key in ("gamma", "buffer_size", "learning_starts", "noise_std", "learning_rate"):
        assert entry.values[key] == raw["Pendulum-v1"][key]
    assert entry.values["net_arch"] == [400, 300]
    assert entry.source.startswith("rl-zoo3 ") and entry.source.endswith("td3.yml")
    assert zoo.lookup("td3", "NotAnEnv-v0") is None


def test_zoo_linear_schedule_and_episode_train_freq():
    hardcore = zoo.lookup("td3", "BipedalWalkerHardcore-v3")
    assert hardcore.values["lr_schedule"] == "linear" and hardcore.values["learning_rate"] == 7e-4
    n, values = zoo.convert_entry({"n_timesteps": 1e5, "train_freq": [1, "episode"]}, "x")
    assert n == 100_000 and values == {"train_freq": 1, "train_freq_unit": "episode"}


def test_zoo_keys_the_harness_owns_are_refused():
    with pytest.raises(ConfigError, match="zoo key 'normalize'"):
        zoo.convert_entry({"n_timesteps": 10, "normalize": True}, "sac.yml [X]")


def test_yaml_reads_exponents_as_floats_and_names_bad_lines(tmp_path):
    assert yamlio.loads("a: 1e6\nb: -3.5e-4\nc: 10\nd: lin_7e-4") == {"a": 1e6, "b": -3.5e-4, "c": 10, "d": "lin_7e-4"}
    bad = tmp_path / "bad.yml"
    bad.write_text("Pendulum-v1:\n  gamma: 0.9\n  net_arch: [64, 64\n")
    with pytest.raises(ConfigError, match=r"bad\.yml:\d+: not valid YAML"):
        yamlio.load_file(bad)
