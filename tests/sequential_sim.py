"""The simulations that prove the sequential test (harness/sequential/), and the script that
computed the committed values in tests/fixtures/sequential_simulation.json:

    .venv/bin/python tests/sequential_sim.py > tests/fixtures/sequential_simulation.json

Synthetic scores, no training: each simulated study draws every arm's scores from N(mean, 1) and runs
the whole sequential design on them (5 seeds per look, 4 looks, alpha 0.05, 10,000 relabellings).
Each case is deterministic given its seed, so `make test-stats` recomputes it and must find the same
numbers; `make test` runs short versions and checks them against these within Monte Carlo error.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.sequential import simulate  # noqa: E402

COMMAND = ".venv/bin/python tests/sequential_sim.py > tests/fixtures/sequential_simulation.json"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "sequential_simulation.json"

#: name -> simulate()'s arguments. Equal means: every declared difference is a false positive.
CASES: dict[str, dict] = {
    "identical, 2 arms": {"means": [0, 0], "studies": 4000, "seed": 1},
    "identical, 3 arms": {"means": [0, 0, 0], "studies": 2000, "seed": 2},
    "identical, 5 arms": {"means": [0, 0, 0, 0, 0], "studies": 2000, "seed": 3},
    "identical, 5 arms, against the first": {
        "means": [0, 0, 0, 0, 0],
        "studies": 2000,
        "seed": 4,
        "compare": "reference",
    },
    "two identical, one 2 SD better": {"means": [0, 0, 2], "studies": 2000, "seed": 5},
    "effect 1 SD": {"means": [1, 0], "studies": 2000, "seed": 6},
    "effect 2 SD": {"means": [2, 0], "studies": 2000, "seed": 7},
    "identical, 2 arms, signed boundary (AdaStop's pitfall)": {
        "means": [0, 0],
        "studies": 4000,
        "seed": 8,
        "signed_boundary": True,
    },
}


def standard_error(rate: float, studies: int) -> float:
    """The Monte Carlo standard error of a rate estimated from ``studies`` independent studies."""
    return math.sqrt(max(rate * (1 - rate), 1e-12) / studies)


def main() -> None:
    out = {"command": COMMAND, "cases": {}}
    for name, case in CASES.items():
        start = time.perf_counter()
        result = simulate(**case)
        result["seconds"] = round(time.perf_counter() - start, 1)
        out["cases"][name] = {"arguments": case, "result": result}
        print(f"{name}: {json.dumps(result)}", file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
