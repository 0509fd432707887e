"""The study report: run directories -> tidy tables (``load``) -> statistics (``stats``) ->
tables and figures (``tables``, ``plots``, ``arms``) -> report.md and a self-contained report.html
(``write``, ``html``). It reads files only: no torch, no Stable-Baselines3, no agent code."""
