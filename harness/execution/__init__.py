"""Where runs execute: a pool of processes on this machine (``local``), tasks on a Ray cluster
(``ray``), the order and housekeeping of a plan's runs (``dispatch``), and live progress
(``progress``)."""
