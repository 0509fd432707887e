"""Matched-budget comparisons of reinforcement-learning agents.

The layers, in the order data flows through them: ``spec`` (what to run), ``agents``
(one adapter per arm), ``runner`` (one run: env, agent, evaluation, files), ``executors``
(where runs execute), ``report`` (what the results say).
"""

__version__ = "0.1.0"
