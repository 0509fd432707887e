"""``promote``: make a tuning study's best values what ``compare --hp-set tuned`` reads; and what
``tune`` says at its end: where the values went and the command to run next."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.parser import RESULTS
from harness.config import env_name
from harness.config import tuned as tuned_file


def cmd_promote(args: argparse.Namespace) -> int:
    from harness.tuning import promote

    for source in promote.study_files(args.results, args.study):
        done = promote.promote(source, args.tuned_dir or tuned_file.TUNED_DIR, force=args.force)
        print(done.describe())
        if done.changed:
            arm, env = source.parent.name, source.stem
            print(f"next: make compare ENV={env} ALGOS={arm} HP=tuned{_tuned_var(args.tuned_dir)}")
    return 0


def after_tune(args: argparse.Namespace, study: str, arm: str, env_id: str, values: Path | None) -> None:
    """Say where the study's best values went, promoted or not, and what to run next. Promotes them
    when ``args.promote`` (PromotionRefused, exit 2, when that would lose better values)."""
    from harness.tuning import promote

    if values is None:
        print("no trial completed: no values written, tuned values unchanged")
        return
    env = env_name(env_id)
    print(f"best values: {promote.shown(values)} ({tuned_file.load(values).describe()})", flush=True)
    if args.promote:
        print(promote.promote(values, args.tuned_dir or tuned_file.TUNED_DIR, force=args.force).describe())
        print(f"next: make compare ENV={env} ALGOS={arm} HP=tuned{_tuned_var(args.tuned_dir)}")
        return
    results = "" if Path(args.results) == RESULTS else f' ARGS="--results {args.results}"'
    print(
        f"{promote.shown(args.tuned_dir or tuned_file.TUNED_DIR)} unchanged (promote with PROMOTE=1, or later:"
        f" make promote STUDY={study}{results}{_tuned_var(args.tuned_dir)})"
    )
    print(
        f"next: make compare ENV={env} ALGOS={arm} TUNED={promote.shown(values.parent.parent)}   (these values, not promoted)"
    )


def _tuned_var(tuned_dir: Path | None) -> str:
    return f" TUNED={tuned_dir}" if tuned_dir else ""
