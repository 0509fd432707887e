"""Matched-budget comparisons of reinforcement-learning agents.

The stages, in the order data flows through them. Each is a subpackage; a module imports
only from its own stage, the stages above it in this list, and the shared modules at the
top (``errors``, ``fmt``):

    config/      hyperparameters: typed schemas, YAML, rl-zoo3's tuned values, search spaces,
                 reference scores                                        (no torch)
      │
    agents/      the agent contract, the registry of arms, the SB3 and random adapters
      │
    run/         one run: run spec, env factory, evaluation protocol, runner, checkpoints,
      │          run-directory format and provenance, locks; watching and timing an agent
    verify/      one agent on its own: the contract and the probes (check-agent), its update against SB3's (parity)
      │
    study/       a study: budgets, envs x arms x seeds, the plan and its cost estimate
      │
    execution/   where runs execute: the local process pool, Ray, live progress
      │
    tuning/      Optuna studies whose objective is a run; promoting their best values
      │
    report/      run directories -> statistics, figures, report.md / report.html
      │          (reads files only: imports run.rundir and config, never torch or agents)
    cli/         ``python -m harness <command>``: parsing, and one function per command
"""

__version__ = "0.1.0"


def _import_gym_quietly() -> None:
    """gym 0.26 (only present with the optional ``bullet`` extra, for pybullet's Minitaur code)
    prints a deprecation notice to stderr when imported, and Stable-Baselines3 imports it when it
    is installed: every run and worker would print it. The notice says nothing about this
    project's use of gym (harness/run/minitaur.py), so it is imported once here, silently."""
    import contextlib
    import importlib.util
    import io

    if importlib.util.find_spec("gym") is not None:
        with contextlib.redirect_stderr(io.StringIO()):
            import gym  # noqa: F401


_import_gym_quietly()
