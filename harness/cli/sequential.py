"""``compare --sequential`` (``make compare SEEDS=adaptive``): each look planned, shown, run and decided
through harness.study.sequential, until the study is finished or a look's runs are not all results."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness import sequential as seq
from harness.cli.options import RunOptions
from harness.execution.dispatch import run_plan
from harness.report.write import write_report
from harness.study.plan import SequentialPlan, confirm, describe_plan, describe_sequential, make_plan
from harness.study.sequential import SequentialStudy
from harness.study.spec import StudySpec


def run_sequential(
    study: StudySpec, results_root: Path, options: RunOptions, design: seq.Design, seed_offset: int = 0
) -> int:
    """Run the looks still to run, each decided and recorded before the next; returns the exit code (0, 1
    if a look's runs did not all complete: repeat the command to complete them and decide the look)."""
    sequential = SequentialStudy(study, design, results_root, seed_offset)
    display = options.display
    with sequential.held(options.dry_run):
        while (look := sequential.next_look()) is not None:
            recorded = sequential.record.get("matmul_backend", options.matmul_backend)
            backend = recorded if options.matmul_backend == "auto" else options.matmul_backend
            plan = make_plan(
                look.study,
                results_root,
                options.jobs,
                options.threads,
                estimate=options.estimate,
                matmul_backend=backend,
                precision=options.precision,
                seed_groups=options.seed_groups,
            )
            if not options.tensorboard:
                plan.runs = [dataclasses.replace(r, tensorboard=False) for r in plan.runs]
            shown = SequentialPlan(design, look.number, look.arms, len(study.envs))
            lines = describe_plan(plan, results_root, options.jobs, options.threads)
            for line in lines[:1] + describe_sequential(shown, plan, options.jobs) + lines[1:]:
                display.line(line)
            if options.dry_run:
                return 0
            confirm(plan, options.jobs, options.assume_yes, repeats=design.looks - look.number + 1)
            sequential.fix_design()
            if plan.to_run:
                run_plan(plan, results_root, options.jobs, options.threads, display, options.policy, options.executor)
            missing, decided = sequential.decide(look, plan.matmul.backend)
            if missing:
                display.line(
                    f"look {look.number} is not complete: {', '.join(missing)} (see their meta.json); it is decided "
                    "once every run of the look is a result: repeat the same command"
                )
                return 1
            display.line(f"look {look.number} of {design.looks}: {decided} ({seq.record_path(sequential.folder)})")
        display.line(f"sequential study {'complete' if sequential.record['looks'] else 'not started'}:")
        for line in sequential.verdict_lines():
            display.line(line)
    if options.report and not options.dry_run:
        path = write_report(sequential.folder, reference=options.reference)
        display.line(f"report: {path} and {path.with_suffix('.html')}")
    return 0
