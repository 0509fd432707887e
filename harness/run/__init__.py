"""One run: what it is (``spec``), the env factory (``envs``; the probe envs of ``probe_envs``), the
evaluation protocol (``evaluator``), training with checkpoints and resume (``runner``, ``checkpoint``,
``locks``), the files it leaves (``rundir``: the format the report reads; ``provenance``), and tools
on one agent: watching a saved model (``watch``) and timing the update (``bench``).
"""
