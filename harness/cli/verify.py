"""``check-agent`` and ``parity``: is an agent correct, on its own, before it enters a study?"""

from __future__ import annotations

import argparse


def cmd_check_agent(args: argparse.Namespace) -> int:
    import torch

    from harness.agents import get_arm
    from harness.run.envs import resolve_env_id
    from harness.verify import conformance, probes

    torch.set_num_threads(1)  # as a run of a study: small networks are fastest on one thread
    arm = get_arm(args.agent)
    env_id = resolve_env_id(args.env)
    settings = ", ".join(f"{k}={v}" for k, v in conformance.CHECK_SETTINGS.items())
    print(
        f"check-agent {arm.name} on {env_id} and {len(conformance.SHAPES)} Box envs, with {settings} "
        "where its Config has them",
        flush=True,
    )
    if args.probes:
        settings = ", ".join(f"{k}={v}" for k, v in probes.PROBE_SETTINGS.items())
        print(
            f"then {len(probes.PROBES)} probes (docs/agents.md), each its gamma and {settings} where its Config has them"
        )
    checks = conformance.run_checks(
        arm,
        env_id,
        args.learning,
        args.steps,
        args.device,
        say=lambda check: print(check.row(), flush=True),
        with_probes=args.probes,
    )
    line, code = conformance.summary(checks)
    print(line)
    return code


def cmd_parity(args: argparse.Namespace) -> int:
    import torch

    from harness.agents import get_arm
    from harness.verify import parity

    torch.set_num_threads(1)
    arm = get_arm(args.agent)
    print(parity.describe(arm, args.reference, args.updates, args.threshold), flush=True)
    results = parity.run(arm, args.reference, args.updates, args.threshold)
    for result in results:
        for line in result.rows():
            print(line)
    failed = [r for r in results if not r.passed]
    print(
        f"{len(results)} comparison(s): {len(results) - len(failed)} passed"
        + (f", {len(failed)} failed: {', '.join(r.name for r in failed)}" if failed else "")
    )
    return 1 if failed else 0


def cmd_validate_precision(args: argparse.Namespace) -> int:
    """Writes ``<bf16 study>/precision-validation.md``; exit 1 unless every (env, arm) is shown equivalent."""
    import torch

    from harness.errors import UsageError
    from harness.run.rundir import atomic_write
    from harness.verify import precision_check

    if not 0 < args.alpha < 0.5:
        raise UsageError(f"--alpha: expected a level in (0, 0.5), got {args.alpha}")
    margins = precision_check.parse_margins(args.margins)
    fp32_dir, bf16_dir = args.results / args.fp32_study, args.results / args.bf16_study
    tests = precision_check.equivalence(fp32_dir, bf16_dir, margins, args.alpha)
    torch.set_num_threads(1)
    drifts = precision_check.drift(args.updates)
    text = (
        f"# fp32 against bf16: `{args.fp32_study}` and `{args.bf16_study}`\n\n"
        f"Written by `python -m harness validate-precision --fp32-study {args.fp32_study} --bf16-study "
        f"{args.bf16_study} --margins {args.margins} --alpha {args.alpha:g} --updates {args.updates}`.\n\n"
        + precision_check.markdown(drifts, tests, args.updates, args.alpha)
    )
    out = bf16_dir / "precision-validation.md"
    atomic_write(out, text)
    print(text, end="")
    print(f"written to {out}")
    return 0 if all(t.test["equivalent"] for t in tests) else 1
