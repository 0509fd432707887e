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
