"""Runs RiskLoc's reference implementations on cases of its synthetic datasets and prints one
JSON line per (case, method): ``{"dataset", "case", "method", "predictions", "seconds"}``.

Not part of kpigraph: :mod:`benchmarks.localize_riskloc` runs this file with the Python of a
separate checkout of shaido987/riskloc (its own virtualenv, its own code on ``sys.path``,
``cwd`` = that checkout). It only calls that repository's public functions."""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    data_root, datasets, cases, methods = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
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
        files = sorted(f[:-4] for f in os.listdir(directory) if f[:-4].isdigit())[:cases]
        for case in files:
            df, attributes, df_a, df_b = read_dataframe(directory, case, False, False)
            for method in methods.split(","):
                start = time.time()
                try:
                    found = run_method(
                        df, [df_a, df_b], attributes, method, defaults[method], False, False
                    )
                    predictions = [str(p) for p in root_cause_postprocessing(found, method)]
                    error = None
                except Exception as exc:  # a reference method failing is a result too
                    predictions, error = [], f"{type(exc).__name__}: {exc}"
                seconds = time.time() - start
                print(
                    json.dumps(
                        {
                            "dataset": dataset,
                            "case": case,
                            "method": method,
                            "predictions": predictions,
                            "seconds": seconds,
                            "error": error,
                        }
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()
