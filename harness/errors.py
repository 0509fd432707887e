"""Errors that reach the user as a message rather than a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UsageError(Exception):
    """Bad input from the command line or a configuration file; the CLI exits with code 2."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration value or file is wrong; the message names the file, key and what is accepted."""


def suggest(word: str, choices: Iterable[str], n: int = 3) -> str:
    """' Did you mean: a, b?' for close matches of ``word`` in ``choices``, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)
    return f" Did you mean: {', '.join(close)}?" if close else ""


class AgentError(RuntimeError):
    """An agent broke the contract during a run (overran its budget, acted outside the action space,
    saved nothing, ...): the run fails with what the agent did, never enters a statistic as matched."""


class EnvFault(RuntimeError):
    """The environment returned a non-finite observation or reward: the run fails as the env's fault,
    not the agent's (it is neither diverged nor a score)."""
