"""Runs RiskLoc's reference implementations on cases of its synthetic datasets and prints one
JSON line per (case, method): ``{"dataset", "case", "method", "predictions", "seconds",
"read_seconds", "error"}`` (``seconds``: the method alone on the case already read;
``read_seconds``: reading the case file into pandas, once per case, shared by its methods).

Not part of kpigraph: :mod:`benchmarks.localize_riskloc` runs this file with the Python of a
separate checkout of shaido987/riskloc (its own virtualenv, its own code on ``sys.path``,
``cwd`` = that checkout). It only calls that repository's public functions.

``python riskloc_driver.py DATA_ROOT DATASETS CASES METHODS [LIMIT_SECONDS [SKIP]]``: a method still
running after ``LIMIT_SECONDS`` on a case is stopped (SIGALRM) and reported with
``"error": "did not finish within N s"`` and no predictions; ``SKIP`` cases (by file name) are
passed over first."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from types import FrameType


class OverTime(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise OverTime


def main() -> None:
    data_root, datasets, cases, methods = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    limit = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    skip = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    signal.signal(signal.SIGALRM, _alarm)
    sys.path.insert(0, os.getcwd())
    from utils.argument_parser import get_input_arguments  # the repository's defaults
    from utils.evaluation import root_cause_postprocessing
    from utils.run_utils import read_dataframe, run_method

    defaults = {}
    for method in methods.split(","):
        sys.argv = ["run.py", method]
        defaults[method] = get_input_arguments()[3]
    for dataset in datasets.split(","):
        directory = os.path.join(data_root, dataset)
        files = sorted(f[:-4] for f in os.listdir(directory) if f[:-4].isdigit())[
            skip : skip + cases
        ]
        for case in files:
            started = time.time()
            df, attributes, df_a, df_b = read_dataframe(directory, case, False, False)
            read_seconds = time.time() - started
            for method in methods.split(","):
                start = time.time()
                signal.alarm(limit)
                try:
                    # a fresh copy per method, as run.py reads the file anew per run: RiskLoc
                    # and AutoRoot add columns (deviation, partition, weight, …) to the frame
                    # they are given, and Squeeze takes every column but real/predict for an
                    # attribute (a shared frame made it crash or run for minutes)
                    found = run_method(
                        df.copy(), [df_a, df_b], attributes, method, defaults[method], False,
                        False,
                    )  # fmt: skip
                    predictions = [str(p) for p in root_cause_postprocessing(found, method)]
                    error = None
                except OverTime:
                    predictions, error = [], f"did not finish within {limit} s"
                except Exception as exc:  # a reference method failing is a result too
                    where = traceback.extract_tb(exc.__traceback__)[-3:]
                    frames = " < ".join(
                        f"{os.path.relpath(f.filename)}:{f.lineno}" for f in reversed(where)
                    )
                    predictions, error = [], f"{type(exc).__name__}: {exc} (at {frames})"
                finally:
                    signal.alarm(0)
                seconds = time.time() - start
                print(
                    json.dumps(
                        {
                            "dataset": dataset,
                            "case": case,
                            "method": method,
                            "predictions": predictions,
                            "seconds": seconds,
                            "read_seconds": read_seconds,
                            "error": error,
                        }
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()
