"""The report's "Decisions" section for a sequential study (results/<study>/sequential.json, written by
``compare --sequential``): per comparison its verdict, the look that decided it, the seeds each arm used,
and the statistic against the boundary at every look. Studies without the record get no section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness import sequential as seq


def _number(x: float) -> str:
    return f"{x:,.3g}" if abs(x) < 10 else f"{x:,.1f}"


def _cell(look: dict[str, Any], comparison: str) -> str:
    """``T vs b`` of one comparison at one look: the step that decided it, or the last step it was open in."""
    if comparison not in look.get("statistics", {}):
        return "-"
    statistic = look["statistics"][comparison]
    steps = [s for s in look["steps"] if comparison in s["open"]]
    step = next((s for s in steps if s["decided"] == comparison), steps[-1])
    if step["decided"] == comparison:
        return f"**{_number(statistic)} > {_number(step['boundary'])}**: {look['decided'][comparison]}"
    return f"{_number(statistic)} ≤ {_number(step['boundary'])}"


def decisions_section(study_dir: Path) -> list[str]:
    """Markdown lines of the section, or [] when the study is not sequential."""
    record = seq.read_record(study_dir)
    if record is None:
        return []
    design = seq.design_from(record)
    looks = record.get("looks", [])
    verdicts = record.get("verdicts", {})
    seeds = record.get("seeds_per_arm", {})
    envs = len(record.get("study", {}).get("envs", [])) or 1
    md = ["## Decisions (sequential design)", ""]
    if not looks:
        return [*md, "The sequential study has not completed its first look yet: nothing is decided.", ""]
    done = len(looks)
    status = (
        f"finished after look {done} of {design.looks}"
        if record.get("finished")
        else f"**in progress**: {done} of at most {design.looks} looks done (repeat the command to continue); "
        "open comparisons are undecided, not 'not distinguished'"
    )
    versus = "every pair of arms" if design.compare == "all" else f"{design.arms[0]} against each other arm"
    margin = (
        f"equivalence is claimed only when a TOST puts the difference of normalized scores inside "
        f"±{design.equivalence_margin:g}, declared before the study"
        if design.equivalence_margin is not None
        else "no equivalence margin was declared, so no comparison can end as 'equivalent'"
    )
    md += [
        f"A group-sequential test (AdaStop, Mathieu et al. 2024; docs/sequential.md): {design.per_look} seeds per "
        f"arm per look, at most {design.looks} looks, {versus}; the family-wise error rate over all "
        f"{len(design.comparisons)} comparisons is at most {design.alpha:g}. Status: {status}. "
        f"One score per seed: {record.get('score', 'the final score')}. A comparison still open after the "
        f"last look is *not distinguished*, which does not mean equal; {margin}.",
        "",
    ]
    rows = []
    for name in design.comparisons:
        v = verdicts.get(name, {"verdict": "open", "look": None})
        last = next(lk for lk in reversed(looks) if name in lk.get("differences", {}))
        rows.append(
            {
                "comparison (X vs Y)": name,
                "verdict": f"**{v['verdict']}**",
                "decided at look": v["look"] or "-",
                "seeds per arm then": design.per_look * (v["look"] or last["look"]),
                "mean X - mean Y": _number(last["differences"][name]),
            }
        )
    md += [pd.DataFrame(rows).to_markdown(index=False), ""]
    runs = sum(seeds.values()) * envs
    fixed = len(design.arms) * design.looks * design.per_look * envs
    md += [
        "Seeds each arm used: "
        + ", ".join(f"{a} {n}" for a, n in seeds.items())
        + f"; {runs} runs in all, against {fixed} for a fixed study of {design.looks * design.per_look} seeds "
        f"per arm ({fixed - runs} saved)." + ("" if record.get("finished") else " (So far.)"),
        "",
        "### Statistic against boundary at every look",
        "",
        "The statistic is |sum over looks of (mean of X - mean of Y at that look)|, in score units times looks; "
        "the boundary is the same absolute quantity over relabellings of the scores within each look, "
        f"{design.permutations:,} per look (seed {design.seed}), spending alpha linearly "
        f"({design.alpha / design.looks:g} per look) and conditioned on the earlier looks not having crossed. "
        "A comparison is decided when its statistic exceeds the boundary (bold); at each look the largest "
        "statistic is tested first and the boundary is recomputed for the comparisons left (step-down).",
        "",
    ]
    table = pd.DataFrame(
        [{"comparison": name, **{f"look {lk['look']}": _cell(lk, name) for lk in looks}} for name in design.comparisons]
    )
    md += [table.to_markdown(index=False), ""]
    tests = {name: v["equivalence"] for name, v in verdicts.items() if "equivalence" in v}
    if tests:
        md += [
            "### Equivalence (TOST)",
            "",
            f"For comparisons not distinguished after the last look: two one-sided Welch tests on normalized "
            f"scores, each at level alpha / {len(tests)} (Bonferroni), with the margin ±{design.equivalence_margin:g}.",
            "",
            pd.DataFrame(
                [
                    {
                        "comparison": name,
                        "difference (normalized)": f"{t['difference']:.3f}",
                        f"{1 - 2 * t['level']:.1%} interval": f"[{t['interval'][0]:.3f}, {t['interval'][1]:.3f}]",
                        "equivalent": "yes" if t["equivalent"] else "no",
                    }
                    for name, t in tests.items()
                ]
            ).to_markdown(index=False),
            "",
        ]
    md += [
        "**The statistics in the rest of this report are descriptive.** The IQM, means, medians, their "
        "confidence intervals and P(X > Y) below are computed on the runs this design happened to produce and "
        "are not adjusted for its stopping: an arm was given more seeds only while its comparisons were close, "
        "so their intervals and probabilities are not tests. The decisions above are.",
        "",
    ]
    return md
