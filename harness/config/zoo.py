"""rl-zoo3's tuned hyperparameters, read from the installed ``rl_zoo3`` package.

The zoo's YAML holds Python in strings (``policy_kwargs: "dict(net_arch=[400, 300])"``) and
schedules as ``lin_7e-4``. ``convert_entry`` is the one place such strings are interpreted,
and it never calls ``eval``: it reads the expression's syntax tree and accepts literals,
``dict(...)`` calls and a fixed table of torch activation names.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Any

from custom_td3.networks import ACTIVATION_CLASSES
from harness.config import yamlio
from harness.errors import ConfigError

#: The torch activation classes the zoo writes in policy_kwargs (``nn.ReLU``), by the name our configs use.
ACTIVATIONS = {f"nn.{cls.__name__}": name for name, cls in ACTIVATION_CLASSES.items()}


@dataclass(frozen=True)
class ZooEntry:
    """One env's entry of one zoo file, converted to plain typed data."""

    algo: str
    env_id: str
    n_timesteps: int
    values: dict[str, Any]
    source: str  # e.g. "rl-zoo3 2.9.2 td3.yml"
    label: str = ""  # the entry used: the env id, or e.g. "Hopper-v4 for Hopper-v5"


def zoo_version() -> str:
    return metadata.version("rl_zoo3")


@functools.cache
def load_zoo_file(algo: str) -> dict[str, Any]:
    """The raw YAML mapping of ``rl_zoo3/hyperparams/<algo>.yml``."""
    path = resources.files("rl_zoo3") / "hyperparams" / f"{algo}.yml"
    if not path.is_file():
        raise ConfigError(f"rl-zoo3 {zoo_version()} has no hyperparameter file {algo}.yml")
    data = yamlio.loads(path.read_text(), f"rl_zoo3/hyperparams/{algo}.yml")
    return data or {}


#: Envs the zoo tunes under an earlier version only. Gymnasium's MuJoCo v5 envs keep v4's
#: observations, actions and rewards (v5 fixes bugs and adds options), so v4's tuned values
#: are the zoo's best guess for them; the run records which entry it used.
ZOO_ALIASES = {
    f"{name}-v5": f"{name}-v4" for name in ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid", "Swimmer")
}


def lookup(algo: str, env_id: str) -> ZooEntry | None:
    """The zoo's tuned entry for ``env_id`` (the part after ``module:``), or None if not listed.

    An env the zoo lists only under an earlier version (``ZOO_ALIASES``) gets that entry, and
    its source says so: ``rl-zoo3 2.9.2 td3.yml [Hopper-v4 for Hopper-v5]``.
    """
    name = env_id.split(":")[-1]
    table = load_zoo_file(algo)
    listed = name if name in table else ZOO_ALIASES.get(name)
    if listed is None or table.get(listed) is None:
        return None
    source = f"rl-zoo3 {zoo_version()} {algo}.yml"
    label = name if listed == name else f"{listed} for {name}"
    n_timesteps, values = convert_entry(dict(table[listed]), f"{source} [{label}]")
    return ZooEntry(algo, name, n_timesteps, values, source, label)


def convert_entry(raw: dict[str, Any], where: str) -> tuple[int, dict[str, Any]]:
    """Zoo entry -> (n_timesteps, values under our field names).

    ``learning_rate: lin_7e-4`` becomes ``learning_rate=7e-4, lr_schedule='linear'``;
    ``train_freq: [1, "episode"]`` becomes ``train_freq=1, train_freq_unit='episode'``;
    ``policy_kwargs`` is parsed into its keys (``net_arch``, ``activation_fn``...). Keys that
    configure things the harness owns (env wrappers, normalization, callbacks) are refused.
    """
    out: dict[str, Any] = {}
    if "n_timesteps" not in raw:
        raise ConfigError(f"{where}: no n_timesteps")
    n_timesteps = int(float(raw.pop("n_timesteps")))
    policy = raw.pop("policy", "MlpPolicy")
    if policy != "MlpPolicy":
        raise ConfigError(f"{where}: policy {policy!r} is not supported; accepted: 'MlpPolicy'")
    for key, value in raw.items():
        if key == "learning_rate":
            out.update(parse_schedule(value, where))
        elif key == "train_freq":
            if isinstance(value, (list, tuple)):
                out["train_freq"], out["train_freq_unit"] = int(value[0]), str(value[1])
            else:
                out["train_freq"] = value
        elif key == "policy_kwargs":
            out.update(parse_kwargs(value, where) if isinstance(value, str) else dict(value))
        elif key in (
            "normalize",
            "env_wrapper",
            "vec_env_wrapper",
            "frame_stack",
            "callback",
            "n_envs",
            "env_kwargs",
            "monitor_kwargs",
            "replay_buffer_class",
            "replay_buffer_kwargs",
        ):
            raise ConfigError(
                f"{where}: zoo key '{key}' configures the environment or training loop, which the harness "
                "keeps identical for every arm; list the env in hyperparams/ with explicit values instead"
            )
        else:
            out[key] = value
    return n_timesteps, out


def parse_schedule(value: Any, where: str) -> dict[str, Any]:
    """``1e-3`` -> constant; ``'lin_7e-4'`` -> linear decay from 7e-4 to 0 over training."""
    if isinstance(value, str):
        kind, _, number = value.partition("_")
        if kind != "lin":
            raise ConfigError(f"{where}: learning_rate {value!r}; accepted: a float or 'lin_<float>'")
        try:
            return {"learning_rate": float(number), "lr_schedule": "linear"}
        except ValueError:
            raise ConfigError(f"{where}: learning_rate {value!r}; accepted: a float or 'lin_<float>'") from None
    return {"learning_rate": value, "lr_schedule": "constant"}


def parse_kwargs(text: str, where: str) -> dict[str, Any]:
    """Parse ``"dict(a=1, b=[2, 3], activation_fn=nn.ReLU)"`` or ``"{'a': 1}"`` without eval."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ConfigError(f"{where}: cannot parse policy_kwargs {text!r}") from None
    value = _literal(tree, where, text)
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: policy_kwargs {text!r} is not a dict")
    return value


def _literal(node: ast.AST, where: str, text: str) -> Any:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {kw.arg: _literal(kw.value, where, text) for kw in node.keywords}
    if isinstance(node, ast.Dict):
        pairs = [(k, v) for k, v in zip(node.keys, node.values, strict=True) if k is not None]
        if len(pairs) == len(node.keys):  # a None key is **unpacking, which falls through to the error
            return {_literal(k, where, text): _literal(v, where, text) for k, v in pairs}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, where, text) for e in node.elts]
    if isinstance(node, ast.Constant):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
    ):
        return -node.operand.value
    if isinstance(node, ast.Attribute) and ast.unparse(node) in ACTIVATIONS:
        return ACTIVATIONS[ast.unparse(node)]
    raise ConfigError(
        f"{where}: policy_kwargs {text!r} contains {ast.unparse(node)!r}; accepted: literals, dict(...), "
        f"and the activations {', '.join(ACTIVATIONS)}"
    )
