"""Benchmark: ``kpigraph explain --localize`` against the published root-cause localisation
methods on RiskLoc's synthetic datasets, side by side, scored by one function.

``python -m benchmarks.localize_riskloc --riskloc DIR [--datasets S,L,H] [--cases 10]
[--limit 60] [--method-cases squeeze=2,hotspot=2] [--method-limits squeeze=180,hotspot=90]
[--save FILE]``

``DIR`` is a copy of shaido987/riskloc *outside* this project (``git archive`` of its
repository). Where missing, this script makes its virtualenv ``DIR/.venv`` (the checkout's
``requirements.txt`` from PyPI, numpy 1.23 and pandas 1.5: :data:`REFERENCE_REQUIREMENTS`)
and generates the datasets with its own
``generate_dataset.py`` and the arguments and seeds its README gives (S: 121, L: 122,
H: 123; ``--num`` = ``--generate``, default 20: the first 20 files of the published
sequence). Cases are then taken by file name (the driver's order): ``--cases`` of them after
``--skip``; the table in BENCHMARKS.md is cases 1–10 and 11–20 of the 20 files (another
``--generate`` picks other cases). Then, per dataset:

1. the reference implementations (RiskLoc, AutoRoot, Squeeze, HotSpot, Adtributor, with the
   repository's default parameters) run through :mod:`benchmarks.riskloc_driver` in that
   virtualenv on the first ``--cases`` cases (by file name), each method on a fresh copy of
   the case, stopped after ``--limit`` seconds on a case ("did not finish within N s", scored
   as an empty prediction); slow methods may get fewer cases (``--method-cases``) or another
   limit (``--method-limits``);
2. each case becomes a kpigraph catalog (one metric ``m`` with the case's dimensions; its
   values one Parquet file, the ``predict`` column as 2026-05, ``real`` as 2026-06:
   :func:`write_catalog`), loaded and explained with
   ``kpigraph explain m --period 2026-06 --base 2026-05 --by <all> --localize --json``
   as a user would (a new process per case, stopped after ``--limit`` seconds like the
   reference methods; its time is the explain process's whole wall time, and the search's
   own time is read from its log). From 200,000 leaves (H: 24 million) ``explain`` reads the
   leaves column-wise (:mod:`analysis.localize_columns`). ``--in-process-above N`` calls the
   search in this process instead on cases above ``N`` leaves (the file read by pyarrow:
   :func:`read_cube`; how H was run before the CLI held it). A case above localize's budget is
   reported as refused with the search's own message;
3. every method's predicted set is scored against the case's label by :func:`score` (exact
   match of ``dim=member&…`` combinations, as in the RiskLoc paper) and the table printed:
   F1 / precision / recall per method over the cases it was run on (from summed TP, FP, FN),
   the mean time per case, and how many cases it did not finish or failed.

``--save FILE`` appends every result as a JSON line as it arrives; ``--results FILE …`` with
``--no-reference --no-kpigraph`` prints the table of earlier runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

METHODS = ["riskloc", "autoroot", "squeeze", "hotspot", "adtributor"]
ROOT = Path(__file__).resolve().parent.parent


def score(predicted: list[str], label: str) -> tuple[int, int, int]:
    """``(TP, FP, FN)``: a true combination counts when predicted exactly (members sorted).
    A prediction is split on ``;`` as the label is (Squeeze returns the root causes it finds
    in one cluster as one string ``e=e5;e=e2``; RiskLoc's own ``score_root_causes`` would count
    that as one false positive).

    >>> score(["b=b1&a=a2", "c=c3"], "a=a2&b=b1;d=d4")
    (1, 1, 1)
    >>> score(["e=e5;e=e2"], "e=e2")
    (1, 1, 0)
    """
    truth = {"&".join(sorted(t.split("&"))) for t in label.split(";") if t}
    pred = {"&".join(sorted(p.split("&"))) for q in predicted for p in q.split(";") if p}
    tp = len(truth & pred)
    return tp, len(pred) - tp, len(truth) - tp


def cases(data: Path, dataset: str, n: int, skip: int = 0) -> list[tuple[str, str]]:
    with (data / dataset / "injection_info.csv").open(encoding="utf-8") as fh:
        labels = {row["timestamp"]: row["set"] for row in csv.DictReader(fh)}
    return sorted(labels.items())[skip : skip + n]


class Refused(Exception):
    """kpigraph's localize refused the case (above its budget)."""


def count_rows(path: Path) -> int:
    """Data rows of a CSV file (lines after the header)."""
    lines = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            lines += chunk.count(b"\n")
    return lines - 1


def write_catalog(path: Path, root: Path, name: str) -> list[str]:
    """The case file as a kpigraph catalog at ``root``: one metric ``m`` with the case's
    dimensions, its values one Parquet file ``values/m.parquet`` (``predict`` as 2026-05,
    ``real`` as 2026-06; two rows a leaf), written column-wise by pyarrow (no Python object
    per leaf: an H case is 48 million rows). Returns the dimensions."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    with path.open(encoding="utf-8") as fh:
        head = next(csv.reader(fh))
    dims = [h for h in head if h not in ("real", "predict")]
    types = {d: pa.dictionary(pa.int32(), pa.string()) for d in dims}
    types.update({"real": pa.float64(), "predict": pa.float64()})
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
    (root / "metrics").mkdir(parents=True)
    (root / "values").mkdir()
    (root / "kpigraph.yaml").write_text(f"name: riskloc {name}\n", "utf-8")
    (root / "dimensions.yaml").write_text(
        "- {id: time, name: 时间}\n" + "".join(f"- {{id: {d}, name: {d}}}\n" for d in dims),
        "utf-8",
    )
    (root / "metrics" / "m.yaml").write_text(
        f"id: m\nname: 指标\ndimensions: [time, {', '.join(dims)}]\n", "utf-8"
    )
    schema = pa.schema(
        [("metric", pa.string()), ("period", pa.string())]
        + [(d, pa.dictionary(pa.int32(), pa.string())) for d in dims]
        + [("value", pa.float64())]
    )
    n = table.num_rows
    with pq.ParquetWriter(root / "values" / "m.parquet", schema) as out:
        for period, column in (("2026-05", "predict"), ("2026-06", "real")):
            for start in range(0, n, 1 << 22):
                part = table.slice(start, 1 << 22)
                rows = len(part)
                out.write_table(
                    pa.table(
                        [pa.array(["m"] * rows), pa.array([period] * rows)]
                        + [part.column(d).combine_chunks() for d in dims]
                        + [part.column(column).combine_chunks()],
                        schema=schema,
                    )
                )
    return dims


def kpigraph_case(
    data: Path, dataset: str, case: str, limit: float = 0.0, catalogs: Path | None = None
) -> tuple[list[str], float, float]:
    """``(predictions, CLI wall seconds, search seconds)`` for one case through the CLI: the
    case written as a catalog (:func:`write_catalog`), ``kpigraph load``, then ``kpigraph
    explain m --period 2026-06 --base 2026-05 --by <all> --localize --json`` in a new process,
    stopped after ``limit`` seconds (0: no limit; :class:`OverLimit`). Only the explain
    process is timed, whole (start-up, reading the Parquet values into the values engine,
    explain, the search, output); the search's own seconds are those its log line says
    (``kpigraph.localize`` at INFO, on stderr).

    A case the CLI refuses (above localize's budget) or fails on raises :class:`Refused`
    with the last line of its message."""
    path = data / dataset / f"{case}.csv"
    with path.open(encoding="utf-8") as fh:
        head = next(csv.reader(fh))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "catalog"
        if catalogs is not None:  # written once, kept (H: a minute a case)
            root = catalogs / dataset / case
            written = catalogs / dataset / f"{case}.written"
            if not written.exists():
                shutil.rmtree(root, ignore_errors=True)
                write_catalog(path, root, f"{dataset} {case}")
                written.touch()
            dims = [h for h in head if h not in ("real", "predict")]
        else:
            dims = write_catalog(path, root, f"{dataset} {case}")
        # run in the temporary directory (the values engine's DuckDB spills to .tmp there),
        # this checkout's code on the path
        env = {**os.environ, "KPIGRAPH_DB": str(Path(tmp) / "db.sqlite"),
               "KPIGRAPH_BACKEND": "embedded", "PYTHONPATH": str(ROOT)}  # fmt: skip
        cli = [sys.executable, "-m", "cli"]
        subprocess.run([*cli, "load", str(root)], env=env, cwd=tmp, check=True,
                       capture_output=True)  # fmt: skip
        # the CLI with its log at INFO on stderr: localize says how long it read and searched
        logged = [
            sys.executable,
            "-c",
            "import logging, sys; logging.basicConfig(level="
            "logging.INFO, format='%(message)s'); from cli import main; main(sys.argv[1:])",
        ]
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [*logged, "explain", "m", "--period", "2026-06", "--base", "2026-05", "--by",
                 ",".join(dims), "--localize", "--json"],
                env=env, cwd=tmp, check=True, capture_output=True, text=True,
                timeout=limit or None,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise OverLimit(f"did not finish within {limit:g} s") from None
        except subprocess.CalledProcessError as exc:  # refused (its budget) or failed
            lines = [ln for ln in exc.stderr.splitlines() if ln.strip()]
            raise Refused(lines[-1] if lines else f"exit {exc.returncode}") from None
        wall = time.perf_counter() - start
    report = json.loads(proc.stdout)
    predicted = [
        "&".join(sorted(f"{k}={v}" for k, v in c["members"].items())) for c in report["root_causes"]
    ]
    found = re.findall(r"localize: .* searched in ([0-9.]+) s", proc.stderr)
    search_s = float(found[-1]) if found else 0.0
    LOG[:] = [ln for ln in proc.stderr.splitlines() if ln.startswith(("values:", "localize:"))]
    return predicted, wall, search_s


#: the last CLI run's log lines of the values engine and localize (what took how long)
LOG: list[str] = []


class OverLimit(Exception):
    """kpigraph's explain process did not finish within the limit (and was stopped)."""


def read_cube(path: Path) -> Any:
    """A case file as a :class:`analysis.localize.Cube`, read column-wise by pyarrow (the
    dimensions dictionary-encoded: no Python object per leaf)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from analysis.localize import Cube

    with path.open(encoding="utf-8") as fh:
        head = next(csv.reader(fh))
    dims = [h for h in head if h not in ("real", "predict")]
    types = {d: pa.dictionary(pa.int32(), pa.string()) for d in dims}
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
    table = table.unify_dictionaries()
    codes = np.empty((table.num_rows, len(dims)), dtype=np.int64)
    members = []
    for j, d in enumerate(dims):
        chunks = table.column(d).chunks
        codes[:, j] = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
        members.append([str(m) for m in chunks[0].dictionary.to_pylist()] if chunks else [])
    expected = table.column("predict").to_numpy().astype(np.float64)[:, None]
    actual = table.column("real").to_numpy().astype(np.float64)[:, None]
    return Cube(dims, members, codes, expected, actual)


def kpigraph_in_process(data: Path, dataset: str, case: str) -> tuple[list[str], float, float]:
    """``(predictions, read + search seconds, search seconds)``: the search called in this
    process on the case file read by :func:`read_cube` — for cases too large for the CLI's
    way in (a catalog of 2 values a leaf, read into Python dictionaries): H's 24 million
    leaves."""
    from analysis.localize import search

    start = time.perf_counter()
    cube = read_cube(data / dataset / f"{case}.csv")
    searched = time.perf_counter()
    causes = search(cube)
    end = time.perf_counter()
    predicted = ["&".join(sorted(f"{k}={v}" for k, v in c.members.items())) for c in causes]
    return predicted, end - start, end - searched


# generate_dataset.py's arguments for each dataset, as riskloc's README gives them (``--num``
# from --generate: the files come out in the same order for any --num)
GENERATE = {
    "S": ["--dataset-name", "S", "--seed", "121"],
    "L": ["--dataset-name", "L", "--seed", "122", "--dims", "10", "24", "10", "15",
          "--noise-level", "0.0", "0.1", "--anomaly-severity", "0.5", "1.0",
          "--anomaly-deviation", "0.0", "0.0", "--num-anomaly", "1", "5",
          "--num-anomaly-elements", "1", "1", "--only-last-layer"],
    "H": ["--dataset-name", "H", "--seed", "123", "--dims", "10", "5", "250", "20", "8", "12"],
}  # fmt: skip


# riskloc's requirements.txt (unpinned), held below the releases that came after the code
# (2022): under numpy 2.4 / pandas 3.1 RiskLoc returned other root causes on 2 of the first 10
# L cases than under numpy 1.26 / pandas 1.5 (fewer found), and Squeeze uses ``np.bool``
# (removed in numpy 1.24, back in 2.0 as another type): numpy 1.23 / pandas 1.5 runs all five
REFERENCE_REQUIREMENTS = ["numpy<1.24", "pandas<2", "scipy<1.12", "kneed", "loguru", "pyyaml"]


def prepare(args: argparse.Namespace, datasets: list[str]) -> None:
    """The checkout's virtualenv (its requirements.txt from PyPI) and datasets, where missing."""
    venv = args.riskloc / ".venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *REFERENCE_REQUIREMENTS],
                       check=True)  # fmt: skip
    for dataset in datasets:
        info = args.data / dataset / "injection_info.csv"
        have = len(info.read_text(encoding="utf-8").splitlines()) - 1 if info.exists() else 0
        want = max(args.generate, args.skip + args.cases)
        if have < want:
            print(f"generating {dataset} ({want} cases)", file=sys.stderr, flush=True)
            subprocess.run(
                [str(venv / "bin" / "python"), "generate_dataset.py", "--num", str(want),
                 "--data-root", str(args.data.resolve()), *GENERATE[dataset]],
                cwd=args.riskloc, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip


def reference(args: argparse.Namespace, dataset: str, save: list[dict[str, object]]) -> None:
    """Runs the reference methods on one dataset through the driver in riskloc's virtualenv,
    appending each (case, method) result as it arrives."""
    methods = args.methods.split(",")
    fewer = dict(kv.split("=") for kv in args.method_cases.split(",") if kv)
    limits = dict(kv.split("=") for kv in args.method_limits.split(",") if kv)
    groups: dict[tuple[int, int], list[str]] = {}
    for m in methods:
        n = min(int(fewer.get(m, args.cases)), args.cases)
        groups.setdefault((n, int(limits.get(m, args.limit))), []).append(m)
    for (n, limit), group in groups.items():
        proc = subprocess.Popen(
            [str(args.riskloc / ".venv" / "bin" / "python"),
             str(ROOT / "benchmarks" / "riskloc_driver.py"), str(args.data.resolve()),
             dataset, str(n), ",".join(group), str(limit), str(args.skip)],
            cwd=args.riskloc, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                save.append(json.loads(line))
                _progress(args, save[-1])
        if proc.wait() != 0:
            raise SystemExit(f"riskloc_driver failed on {dataset} ({','.join(group)})")


def _progress(args: argparse.Namespace, result: dict[str, object]) -> None:
    print(json.dumps(result, ensure_ascii=False), file=sys.stderr, flush=True)
    if args.save:
        with args.save.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(result, ensure_ascii=False) + "\n")


def main() -> None:
    from graph_schema.errors import InvalidQueryError

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--riskloc", type=Path, required=True, metavar="DIR",
                    help="a copy of shaido987/riskloc outside this project (git archive of "
                    "its repository); its virtualenv DIR/.venv and datasets DIR/data are made "
                    "there where missing")  # fmt: skip
    ap.add_argument("--datasets", default="S,L",
                    help="RiskLoc's synthetic datasets to run, comma-separated, of S, L, H "
                    "(H: 24 million leaves a case; kpigraph needs ~10 GB of memory on one) "
                    "(default: %(default)s)")  # fmt: skip
    ap.add_argument("--cases", type=int, default=10,
                    help="cases per dataset, taken by file name after --skip; each method "
                    "runs on the same cases (default: %(default)s)")  # fmt: skip
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="reference methods to run beside kpigraph, comma-separated "
                    "(default: %(default)s)")  # fmt: skip
    ap.add_argument("--generate", type=int, default=20,
                    help="files to generate per dataset where missing")  # fmt: skip
    ap.add_argument("--skip", type=int, default=0,
                    help="pass over this many cases (by file name) first")  # fmt: skip
    ap.add_argument("--limit", type=int, default=60,
                    help="seconds a method may take on a case (0: no limit): a reference "
                    "method once the case is read into pandas; kpigraph's explain process "
                    "from its start (reading the catalog's Parquet values included)")  # fmt: skip
    ap.add_argument("--method-cases", default="",
                    help="fewer cases for slow methods, e.g. hotspot=3,squeeze=5")  # fmt: skip
    ap.add_argument("--method-limits", default="",
                    help="other limits for some methods, e.g. squeeze=180,hotspot=90")  # fmt: skip
    ap.add_argument("--data", type=Path, default=None,
                    help="datasets' directory (default DIR/data; H: 1.3 GB a case)")  # fmt: skip
    ap.add_argument("--in-process-above", type=int, default=0,
                    help="cases with more leaves: kpigraph's search called in-process on the "
                    "file read by pyarrow, not through the CLI (0: never)")  # fmt: skip
    ap.add_argument("--count-read", type=float, default=0.0,
                    help="in the table, count a reference method's read of its case in its time, "
                    "past this many seconds as not finished")  # fmt: skip
    ap.add_argument("--catalogs", type=Path, default=None,
                    help="keep the cases' catalogs here (written once, reused)")  # fmt: skip
    ap.add_argument("--no-kpigraph", action="store_true", help="the reference methods only")
    ap.add_argument("--no-reference", action="store_true", help="kpigraph only")
    ap.add_argument("--results", type=Path, nargs="*", default=[],
                    help="JSON lines of earlier runs, scored with this run's")  # fmt: skip
    ap.add_argument("--save", type=Path, default=None, help="append every result as JSON lines")
    args = ap.parse_args()
    data = args.data or args.riskloc / "data"
    args.data = data
    datasets = args.datasets.split(",")
    results: list[dict[str, object]] = []
    for path in args.results:
        lines = path.read_text(encoding="utf-8").splitlines()
        results += [json.loads(line) for line in lines if line.startswith("{")]
    prepare(args, datasets)
    for dataset in datasets:
        if not args.no_reference:
            reference(args, dataset, results)
        if args.no_kpigraph:
            continue
        for case, _label in cases(data, dataset, args.cases, args.skip):
            error = None
            how = "cli"
            LOG.clear()
            try:
                above = args.in_process_above
                if above and count_rows(data / dataset / f"{case}.csv") > above:
                    how = "in-process"
                    predicted, wall, search_s = kpigraph_in_process(data, dataset, case)
                else:
                    predicted, wall, search_s = kpigraph_case(
                        data, dataset, case, args.limit, args.catalogs
                    )
            except OverLimit as exc:
                predicted, wall, search_s, error = [], float(args.limit), 0.0, str(exc)
            except Refused as exc:
                predicted, wall, search_s, error = [], 0.0, 0.0, f"refused: {exc}"
            except InvalidQueryError as exc:
                predicted, wall, search_s, error = [], 0.0, 0.0, f"refused: {exc.message}"
            results.append({"dataset": dataset, "case": case, "method": "kpigraph",
                            "predictions": predicted, "seconds": wall,
                            "search_seconds": search_s, "error": error,
                            "path": how, "log": list(LOG)})  # fmt: skip
            _progress(args, results[-1])
    if args.count_read:
        results = [with_read(r, args.count_read) for r in results]
    table(results, data, datasets, args.cases)


def with_read(result: dict[str, object], limit: float) -> dict[str, object]:
    """A reference method's result with its case's read into pandas counted in its time (as
    kpigraph's explain process counts reading its Parquet values): past ``limit`` seconds so
    counted, it did not finish (scored as an empty prediction)."""
    if "read_seconds" not in result:
        return result
    out = {**result, "seconds": float(result["seconds"]) + float(result["read_seconds"])}  # type: ignore[arg-type]
    if float(out["seconds"]) > limit and not out.get("error"):  # type: ignore[arg-type]
        out.update(predictions=[], error=f"did not finish within {limit:g} s (read included)")
    return out


def table(results: list[dict[str, object]], data: Path, datasets: list[str], n: int) -> None:
    """One row per dataset and method, over the cases that method was run on (a case it did
    not finish within the limit, or failed on, counts as an empty prediction and is counted
    in the last column). Methods run on the same cases are comparable; the cases column says
    which are not."""
    print(
        "| dataset | method | cases | F1 | precision | recall | s/case "
        "| not finished / failed or refused |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for dataset in datasets:
        labels = dict(cases(data, dataset, max(n, 10**6)))
        mine = [r for r in results if r["dataset"] == dataset and r["case"] in labels]
        rows_by: dict[str, dict[str, dict[str, object]]] = {}
        for r in mine:  # the last result of a (method, case) counts
            rows_by.setdefault(str(r["method"]), {})[str(r["case"])] = r
        scored = []
        for method, by_case in rows_by.items():
            rows = list(by_case.values())
            tp = fp = fn = 0
            for r in rows:
                a, b, c = score(list(r["predictions"]), labels[str(r["case"])])  # type: ignore[call-overload]
                tp, fp, fn = tp + a, fp + b, fn + c
            f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
            p = tp / (tp + fp) if tp + fp else 0.0
            rec = tp / (tp + fn) if tp + fn else 0.0
            secs = sum(float(r["seconds"]) for r in rows) / max(len(rows), 1)  # type: ignore[arg-type]
            extra = ""
            if method == "kpigraph":
                search = sum(float(r["search_seconds"]) for r in rows) / max(len(rows), 1)  # type: ignore[arg-type]
                where = {str(r.get("path", "cli")) for r in rows}
                how = "in-process read + search" if where == {"in-process"} else "CLI"
                extra = f" ({how}; search {search:.2f})"
            over = sum(1 for r in rows if str(r.get("error") or "").startswith("did not finish"))
            failed = sum(1 for r in rows if r.get("error")) - over
            scored.append((f1, method, len(rows), p, rec, secs, extra, over, failed))
        for f1, method, k, p, rec, secs, extra, over, failed in sorted(scored, reverse=True):
            print(f"| {dataset} | {method} | {k} | {f1:.3f} | {p:.3f} | {rec:.3f} | "
                  f"{secs:.2f}{extra} | {over} / {failed} |")  # fmt: skip


if __name__ == "__main__":
    main()
