"""Published results of other people's runs (``hyperparams/published.yml``): what the report places beside
an arm of the same algorithm on the same env. Read from the file only, never from the network.

The file has two keys. ``sources`` maps each source's URL to what it says of its own numbers (``caveat``)
and how they were measured (``evaluation``). ``results`` lists one entry per algorithm and env, as
published: ``algo`` (rl-zoo3's name: td3, ddpg, sac, tqc, ...), ``env`` (the env id it was run on),
``mean`` and ``std`` (over the evaluation episodes), ``timesteps`` (the training budget),
``eval_episodes``, optionally ``eval_timesteps``, and ``source`` (one of the URLs under ``sources``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import HYPERPARAMS_DIR, env_name, yamlio
from harness.errors import ConfigError

PUBLISHED_FILE = HYPERPARAMS_DIR / "published.yml"

#: ``Name-vN``: an env id with its version, which the report compares with the study's.
_ENV_ID = re.compile(r"^(?P<name>[A-Za-z0-9_./-]+?)-v(?P<version>\d+)$")
_REQUIRED = ("algo", "env", "mean", "std", "timesteps", "eval_episodes", "source")
_OPTIONAL = ("eval_timesteps",)


@dataclass(frozen=True)
class Source:
    url: str
    caveat: str | None  # what the source says of its own numbers, in its words
    evaluation: str | None  # how the numbers were measured


@dataclass(frozen=True)
class Published:
    """One published result: ``mean`` ± ``std`` over ``eval_episodes`` episodes of an agent of ``algo``
    trained ``timesteps`` env steps on ``env``."""

    algo: str
    env: str
    mean: float
    std: float
    timesteps: int
    eval_episodes: int
    eval_timesteps: int | None
    source: Source

    @property
    def family(self) -> str:
        """The env id without its version: ``Hopper`` for ``Hopper-v3``."""
        return split_version(self.env)[0]


def split_version(env_id: str) -> tuple[str, int | None]:
    """``("Hopper", 3)`` for ``Hopper-v3``; ``(id, None)`` for an id without a version."""
    match = _ENV_ID.match(env_name(env_id))
    return (match["name"], int(match["version"])) if match else (env_name(env_id), None)


def load(path: Path | None = None) -> list[Published]:
    """Every result of ``path`` (default: hyperparams/published.yml), checked; ConfigError naming the file,
    the entry and the field for anything wrong. A missing file is no results."""
    path = Path(path or PUBLISHED_FILE)
    if not path.exists():
        return []
    data = yamlio.load_file(path)
    if not isinstance(data, dict) or set(data) != {"sources", "results"}:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"{path}: expected a mapping with exactly the keys 'sources' and 'results', got {keys}")
    sources = _sources(path, data["sources"])
    if not isinstance(data["results"], list):
        raise ConfigError(f"{path}: 'results' must be a list of entries, got {type(data['results']).__name__}")
    out: list[Published] = []
    seen: dict[tuple[str, str], int] = {}
    for number, entry in enumerate(data["results"], start=1):
        result = _entry(path, number, entry, sources)
        key = (result.algo, result.env)
        if key in seen:
            raise ConfigError(
                f"{path} [results #{number}]: {result.algo} on {result.env} is listed twice (also #{seen[key]}); "
                "one published result per algorithm and env"
            )
        seen[key] = number
        out.append(result)
    return out


def _sources(path: Path, data: Any) -> dict[str, Source]:
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: 'sources' must map each source URL to its caveat and evaluation")
    out = {}
    for url, about in data.items():
        where = f"{path} [sources: {url}]"
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ConfigError(f"{where}: a source is named by its URL (https://...)")
        about = about or {}
        if not isinstance(about, dict) or set(about) - {"caveat", "evaluation"}:
            raise ConfigError(f"{where}: accepted keys are 'caveat' and 'evaluation' (text), got {about!r}")
        for key, value in about.items():
            if not isinstance(value, str):
                raise ConfigError(f"{where}: '{key}' must be text, got {value!r}")
        out[url] = Source(url, about.get("caveat"), about.get("evaluation"))
    return out


def _entry(path: Path, number: int, entry: Any, sources: dict[str, Source]) -> Published:
    where = f"{path} [results #{number}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: an entry is a mapping with the fields {', '.join(_REQUIRED)}, got {entry!r}")
    if isinstance(entry.get("algo"), str) and isinstance(entry.get("env"), str):
        where += f" ({entry['algo']} on {entry['env']})"
    missing = [k for k in _REQUIRED if k not in entry]
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if missing or unknown:
        raise ConfigError(
            f"{where}: "
            + "; ".join(
                ([f"missing field(s) {', '.join(missing)}"] if missing else [])
                + ([f"unknown field(s) {', '.join(unknown)}"] if unknown else [])
            )
            + f"; accepted: {', '.join(_REQUIRED)} (required), {', '.join(_OPTIONAL)} (optional)"
        )
    algo, env = entry["algo"], entry["env"]
    if not isinstance(algo, str) or not re.fullmatch(r"[a-z0-9_]+", algo):
        raise ConfigError(f"{where}: field 'algo' is {algo!r}; accepted: rl-zoo3's lower-case name (td3, sac, ...)")
    if not isinstance(env, str) or split_version(env)[1] is None:
        raise ConfigError(f"{where}: field 'env' is {env!r}; accepted: an env id with its version (Hopper-v3)")
    mean = _number(where, "mean", entry["mean"])
    std = _number(where, "std", entry["std"])
    if std < 0:
        raise ConfigError(f"{where}: field 'std' is {std}; a standard deviation is 0 or more")
    source = entry["source"]
    if source not in sources:
        raise ConfigError(
            f"{where}: field 'source' is {source!r}, not one of the URLs under 'sources': {sorted(sources)}"
        )
    return Published(
        algo,
        env,
        mean,
        std,
        _count(where, "timesteps", entry["timesteps"]),
        _count(where, "eval_episodes", entry["eval_episodes"]),
        _count(where, "eval_timesteps", entry["eval_timesteps"]) if "eval_timesteps" in entry else None,
        sources[source],
    )


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: field '{key}' is {value!r}; accepted: a finite number")
    return float(value)


def _count(where: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: field '{key}' is {value!r}; accepted: a whole number of 1 or more")
    return value


def lookup(algo: str, env_id: str, results: list[Published]) -> Published | None:
    """The published result of ``algo`` on ``env_id``: the same env id if there is one, else the same env
    at another version (the report says that the version differs); None when there is neither."""
    family = split_version(env_id)[0]
    same = [r for r in results if r.algo == algo and r.family == family]
    exact = [r for r in same if r.env == env_name(env_id)]
    if exact:
        return exact[0]
    return max(same, key=lambda r: split_version(r.env)[1] or 0) if same else None
