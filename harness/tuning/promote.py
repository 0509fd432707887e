"""Promotion: a tuning study's best values become what ``compare --hp-set tuned`` reads.

A study writes its best values only to its own folder (``results/tuning/<study>/tuned/``);
promoting copies them to a tuned directory (``hyperparams/tuned/`` by default), adding when and
from where. Values already there that were found with a larger budget or score a better
objective are not replaced without ``force``: the refusal says what would be lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.config import tuned as tuned_file
from harness.errors import UsageError
from harness.run import rundir


class PromotionRefused(UsageError):
    """The target holds values this promotion would lose; promote with force to replace them."""


@dataclass(frozen=True)
class Promotion:
    """One file promoted (or left as it was, when it already held these values)."""

    source: Path
    target: Path
    replaced: tuned_file.Tuned | None
    changed: bool

    def describe(self) -> str:
        target = shown(self.target)
        if not self.changed:
            return f"{target} already holds these values; unchanged"
        if self.replaced is None:
            return f"promoted to {target}"
        return f"promoted to {target}, replacing {self.replaced.describe()}"


def losses(new: tuned_file.Tuned, old: tuned_file.Tuned) -> list[str]:
    """Why replacing ``old`` by ``new`` could lose something, each a clause that follows "values": a
    larger budget, a better objective, or no record of either (so nothing says they are worse)."""
    found = []
    if old.steps is None or old.value is None:
        found.append("whose budget or objective value is not recorded")
    if old.steps is not None and new.steps is not None and old.steps > new.steps:
        found.append(f"found with a larger budget ({old.steps:,} steps per run against {new.steps:,})")
    if old.value is not None and new.value is not None and old.value > new.value:
        found.append(f"with a better objective ({old.value:.2f} against {new.value:.2f})")
    return found


def study_files(results_root: Path, study: str) -> list[Path]:
    """The tuned-values files a study wrote (one per arm and env it tuned); UsageError if none."""
    folder = tuned_file.study_tuned_dir(results_root, study)
    files = sorted(folder.glob("*/*.yml"))
    if not files:
        if not folder.parent.is_dir():
            raise UsageError(f"no tuning study '{study}' under {Path(results_root) / 'tuning'}")
        raise UsageError(
            f"tuning study '{study}' has no best values in {folder} (no trial completed, or it was run before "
            "studies kept their own; its summary.md names its best trial)"
        )
    return files


def promote(source: Path, tuned_dir: Path, force: bool = False) -> Promotion:
    """Copy the tuned-values file ``source`` to ``<tuned_dir>/<arm>/<env>.yml``.

    PromotionRefused (exit code 2), naming what would be lost, when the target holds values
    ``losses`` finds better and ``force`` is not set.
    """
    new = tuned_file.load(source)
    arm = source.parent.name
    recorded = [str(a) for a in (new.provenance.get("arm"), (new.provenance.get("design") or {}).get("arm")) if a]
    if any(a != arm for a in recorded):
        raise UsageError(
            f"not promoted: {shown(source)} lies under the arm '{arm}', but its values were tuned for "
            f"{' / '.join(sorted(set(recorded)))} (its provenance); values are promoted only for the arm that made them"
        )
    target = Path(tuned_dir) / arm / source.name
    old = tuned_file.load(target) if target.exists() else None
    if old is not None and old.hyperparameters == new.hyperparameters and old.study == new.study:
        return Promotion(source, target, old, changed=False)
    if old is not None and not force:
        lost = losses(new, old)
        if lost:
            raise PromotionRefused(
                f"not promoted: {shown(target)} holds values {' and '.join(lost)}: {old.describe()}. This "
                f"study's: {new.describe()}. To replace them, promote with --force (make promote STUDY=... FORCE=1, "
                "or make tune ... PROMOTE=1 FORCE=1)"
            )
    provenance = {
        **new.provenance,
        "promoted": {"date": datetime.now(UTC).isoformat(timespec="seconds"), "from": shown(source)},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    rundir.atomic_write(target, tuned_file.dump(new.hyperparameters, provenance))
    return Promotion(source, target, old, changed=True)


def shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it (as commands print paths)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
