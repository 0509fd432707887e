"""A study: budgets and the expansion envs x arms x seeds into runs (``spec``), the plan a
command prints and confirms (``plan``), and the few seconds of calibration that estimate its
cost (``calibrate``)."""
