"""Matched-budget comparisons of reinforcement-learning agents.

The layers, in the order data flows through them: ``spec`` (what to run), ``agents``
(one adapter per arm), ``runner`` (one run: env, agent, evaluation, files), ``executors``
(where runs execute), ``report`` (what the results say).
"""

__version__ = "0.1.0"


def _import_gym_quietly() -> None:
    """gym 0.26 (only present with the optional ``bullet`` extra, for pybullet's Minitaur code)
    prints a deprecation notice to stderr when imported, and Stable-Baselines3 imports it when it
    is installed: every run and worker would print it. The notice says nothing about this
    project's use of gym (harness/minitaur.py), so it is imported once here, silently."""
    import contextlib
    import importlib.util
    import io

    if importlib.util.find_spec("gym") is not None:
        with contextlib.redirect_stderr(io.StringIO()):
            import gym  # noqa: F401


_import_gym_quietly()
