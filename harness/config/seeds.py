"""The seed ranges that keep tuning apart from testing (Eimer et al. 2023; Patterson et al. 2024).

A study's runs train with seeds below ``TUNING_SEED_BASE`` and evaluate on the episodes
``EVAL_SEED + i``; a tuning study's trials train with seeds from ``TUNING_SEED_BASE`` on and
evaluate on the episodes ``TUNING_EVAL_SEED + i`` (fixed and identical across its trials, so they
compare fairly). A configuration tuned there and compared in a study is thus judged on seeds and
episodes it was not selected on.
"""

from __future__ import annotations

#: Evaluation episode i of every study run, of every arm, resets its env with seed EVAL_SEED + i.
EVAL_SEED = 1_000_000
#: Evaluation episode i of every tuning trial's runs resets with TUNING_EVAL_SEED + i.
TUNING_EVAL_SEED = 2_000_000
#: Tuning trials train with seeds TUNING_SEED_BASE + study seed * 100,000 + trial * seeds per trial + k;
#: a study's seeds must stay below it.
TUNING_SEED_BASE = 1_000_000_000
#: Episodes an evaluation has at most under the named budgets: the span a recorded evaluation seed covers.
MAX_EVAL_EPISODES = 10
