"""The report's "Published references" section: per env, the published result (hyperparams/published.yml,
read offline) of the algorithm an arm runs, beside that arm's final scores, with every difference stated
plainly: the budget, the env's version, the implementation, a variant's settings, and that a published
figure is one run.

An arm's algorithm is the one its runs recorded (meta.json ``algorithm``: rl-zoo3's name, the library,
a variant's settings). Runs recorded before that field existed are matched by arm name for the built-in
arms (``BUILT_IN``) and the variants of hyperparams/variants.yml; other arms have no published algorithm.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.config import published
from harness.config.variants import load_variants
from harness.report.arms import arm_order
from harness.report.load import Study

#: The built-in arms' algorithms, for runs recorded before runs recorded it (harness.agents registers
#: the same: each arm's zoo_algo and library).
BUILT_IN: dict[str, dict[str, Any]] = {
    "td3": {"name": "td3", "library": "td3-harness"},
    "sb3-td3": {"name": "td3", "library": "stable-baselines3"},
    "sb3-ddpg": {"name": "ddpg", "library": "stable-baselines3"},
    "sb3-sac": {"name": "sac", "library": "stable-baselines3"},
    "sb3-tqc": {"name": "tqc", "library": "sb3-contrib"},
    "sb3-crossq": {"name": "crossq", "library": "sb3-contrib"},
}
#: The libraries rl-zoo3 trains its agents with.
ZOO_LIBRARIES = ("stable-baselines3", "sb3-contrib")


def algorithm_of(arm: str, recorded: str | None, variants_file: Path | None = None) -> dict[str, Any]:
    """The algorithm ``arm`` runs: its runs' record (``recorded``, meta.json's ``algorithm`` as JSON), else
    the built-in arm's or variant's; {} when none is known."""
    if recorded:
        return dict(json.loads(recorded))
    if arm in BUILT_IN:
        return dict(BUILT_IN[arm])
    variant = load_variants(variants_file).get(arm)
    if variant is not None and variant.arm in BUILT_IN:
        return {**BUILT_IN[variant.arm], "settings": dict(variant.settings)}
    return {}


def implementation(algorithm: Mapping[str, Any]) -> str:
    """How the arm relates to the published algorithm, in words."""
    name, library = str(algorithm["name"]).upper(), algorithm.get("library")
    if library in ZOO_LIBRARIES:
        words = f"{name}: the implementation rl-zoo3 trained ({library})"
    elif library == "td3-harness":
        words = f"{name}: our implementation of the same algorithm"
    else:
        words = f"{name}: another implementation of the same algorithm ({library or 'library not recorded'})"
    settings = algorithm.get("settings")
    if settings:
        switches = ", ".join(f"{k}={v}" for k, v in settings.items())
        words += f"; a variant ({switches}): not the published settings"
    return words


def steps(n: int) -> str:
    """1M, 500k, 20k, 1.5M, 2,500: env steps as rl-zoo3 writes them where that is exact."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size and (n * 10) % size == 0:
            return f"{n / size:g}{unit}"
    return f"{n:,}"


def published_section(study: Study, path: Path | None = None) -> list[str]:
    """Markdown lines of the section; [] when no arm of the study has a published result on its env."""
    results = published.load(path)
    runs = study.runs[study.runs["status"].isin(["complete", "diverged"])]
    if runs.empty or not results:
        return []
    envs: list[list[str]] = []
    sources: dict[str, published.Source] = {}
    for env in sorted(runs["env"].unique()):
        done = study.results(env)
        rows, without = [], []
        for arm in arm_order(list(done["arm"].unique())):
            group = done[done["arm"] == arm]
            recorded = group["algorithm"].dropna() if "algorithm" in group else pd.Series(dtype=object)
            algorithm = algorithm_of(arm, recorded.iloc[0] if not recorded.empty else None)
            if not algorithm:
                without.append(f"{arm} (no published algorithm recorded for it)")
                continue
            ref = published.lookup(str(algorithm["name"]), env, results)
            if ref is None:
                without.append(
                    f"{arm} (the source has no {algorithm['name']} result on {published.split_version(env)[0]}, any version)"
                )
                continue
            sources[ref.source.url] = ref.source
            rows.append(_row(arm, algorithm, group, env, ref))
        if rows:
            first = done.iloc[0]
            versions = sorted({r["published on"].strip("*") for r in rows} - {env})
            block = [
                f"### {env}",
                "",
                f"This study: {int(first['total_steps']):,} env steps per run, each run scored on "
                f"{int(first['eval_episodes'])} evaluation episodes.",
                "",
            ]
            if versions:
                block += [
                    f"**The env version differs**: the source published on {', '.join(versions)}, this study ran "
                    f"{env}. A different version of an env may change its dynamics or rewards: the figures are "
                    "not directly comparable.",
                    "",
                ]
            block += [pd.DataFrame(rows).to_markdown(index=False), ""]
            envs.append(block + ([f"No published figure: {'; '.join(without)}.", ""] if without else []))
    if not envs:
        return []
    md = [
        "## Published references",
        "",
        "Where the field's published numbers lie, from `hyperparams/published.yml` (transcribed from the source, "
        "read offline). A published figure is the mean ± std over the evaluation episodes of **one trained agent "
        "(one seed)**: it has no spread over seeds, so it cannot be compared with an arm the way two arms are "
        "above; read it as where one run of that algorithm landed, at its budget and on its env version. Our "
        "figure is the mean of the arm's final scores (each the mean return of its run's last evaluation). The "
        "built-in arms start from rl-zoo3's tuned hyperparameters for the env where it lists them; the "
        "hyperparameter tables under Provenance show every value a study ran with.",
        "",
    ]
    for url, source in sources.items():
        md += [
            f"Source: <{url}>"
            + (f" ({source.evaluation})" if source.evaluation else "")
            + (f'; it says of itself: "{source.caveat}".' if source.caveat else "."),
            "",
        ]
    return md + [line for block in envs for line in block]


def _row(arm: str, algorithm: Mapping[str, Any], group: pd.DataFrame, env: str, ref: published.Published) -> dict:
    """One arm beside its published result; ``published on`` in bold when the env version differs."""
    scores = group["final_return"].to_numpy(float)
    ours = int(group["total_steps"].iloc[0])
    n = scores.size
    this = f"{np.mean(scores):.1f} ({n} run{'s' if n != 1 else ''}" + (
        f": {scores.min():.1f} to {scores.max():.1f})" if n > 1 else ")"
    )
    budget = (
        f"the same: {steps(ours)} steps"
        if ours == ref.timesteps
        else f"published at {steps(ref.timesteps)} steps; this study {steps(ours)}"
    )
    return {
        "arm": arm,
        "algorithm": implementation(algorithm),
        "this study: mean final score": this,
        "published: mean ± std": f"{ref.mean:.1f} ± {ref.std:.1f} ({ref.eval_episodes} episodes, 1 run)",
        "published on": ref.env if ref.env == env else f"**{ref.env}**",
        "budget": budget,
    }
