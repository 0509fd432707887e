"""Optuna studies whose objective is a harness run (``tune``), their workers as Ray tasks
(``ray``), and what a study leaves behind: plots and summary (``outputs``)."""
