"""Hyperparameters and configuration: typed schemas (``schema``), YAML that reads numbers as people
write them (``yamlio``), rl-zoo3's tuned values (``zoo``), the layered resolution of one arm's
values on one env (``resolve``), search spaces as data (``search``), tuned-values files with their
provenance (``tuned``) and per-env reference scores (``reference``). Arms are seen through ``resolve.ArmInfo``, never imported; the report reads only
``yamlio`` and ``reference`` from here, which import neither torch nor an agent.
"""

from pathlib import Path

#: The project's hyperparameter files: per-arm YAML, search/, tuned/, reference_scores.yml.
HYPERPARAMS_DIR = Path(__file__).resolve().parent.parent.parent / "hyperparams"


def env_name(env_id: str) -> str:
    """The env id without its ``module:`` prefix: what run directories, files and reports show."""
    return env_id.rpartition(":")[2]
