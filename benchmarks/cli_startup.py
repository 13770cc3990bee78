"""CLI start-up time: ``kpigraph --help`` and ``kpigraph show atp`` on the demo, as a user
runs them (a new process each time). Reports the best and the median of N runs.

    python -m benchmarks.cli_startup [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "catalogs" / "automotive_aftersales"


def timed(args: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, env=env, cwd=ROOT, check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    return {"best_s": round(min(seconds), 3), "median_s": round(statistics.median(seconds), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    opts = parser.parse_args()
    db = Path(tempfile.mkdtemp(prefix="kpigraph-startup-")) / "demo.sqlite"
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_BACKEND": "embedded"}
    cli = [sys.executable, "-m", "cli"]
    subprocess.run([*cli, "load", str(DEMO)], env=env, check=True, capture_output=True)
    results = {
        "python -c pass (floor)": timed([sys.executable, "-c", "pass"], env, opts.runs),
        "kpigraph --help": timed([*cli, "--help"], env, opts.runs),
        "kpigraph show atp": timed([*cli, "show", "atp"], env, opts.runs),
        "kpigraph show 客单价": timed([*cli, "show", "客单价"], env, opts.runs),
    }
    for name, r in results.items():
        print(f"{name:28} best {r['best_s']:.3f} s   median {r['median_s']:.3f} s")


if __name__ == "__main__":
    main()
