"""Optuna studies whose objective is a harness run (``tune``), their workers as Ray tasks
(``ray``), what a study leaves behind: plots and summary (``outputs``), and promoting its best
values to where ``compare --hp-set tuned`` reads them (``promote``)."""
