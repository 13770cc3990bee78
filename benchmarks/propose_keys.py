"""Proposing one change at M, before / after a code change, in one run (issue #23: the
conflict-key index, ``GraphReader.metrics_keyed``).

Each side is a source tree (``--before DIR``, ``--after DIR``: e.g. ``git archive`` of main
unpacked, and this worktree) run in a child process of its own against a copy of one embedded
store (``--store FILE``, loaded by the *after* tree so that it holds the index), alternating
sides per round. A child holds the store as ``kpigraph serve`` does: it reads the graph and
makes one warm-up proposal (reported as the fresh process's figure), then times ``--repeat``
proposals of each kind on ``--metric``:

- ``patch``: the definition reworded (a minor change);
- ``formula``: the formula multiplied by 1 (a major change; the cycle check runs).

Wall and CPU (this process's user+system) per proposal; the load average before and after.

usage: python -m benchmarks.propose_keys --before DIR --after DIR --store FILE
       [--metric m005000] [--repeat 3] [--rounds 2] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CHILD = r"""
import json, sys, time
from governance.proposal import propose
from graph_schema.governance import Action
from graph_schema.ids import NodeKind, NodeRef
from store.embedded import EmbeddedStore

path, metric, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0, c0 = time.perf_counter(), time.process_time()
store = EmbeddedStore(path)
ref = NodeRef(NodeKind.METRIC, metric)
node = store.get_nodes([ref])[ref]
base = {k: v for k, v in node.props().items() if k not in ("version", "history")}

def timed(definition):
    w, c = time.perf_counter(), time.process_time()
    found = propose(store, Action.UPDATE, ref, definition, None)
    return time.perf_counter() - w, time.process_time() - c, found

patch = {**base, "definition": (base.get("definition") or "") + "（改）"}
formula = {**base, "formula": f"({base['formula']}) * 1"} if base.get("formula") else None
_, _, first = timed(patch)
out = {"fresh_wall_s": time.perf_counter() - t0, "fresh_cpu_s": time.process_time() - c0,
       "result": [first.change_class, first.new_version, len(first.lint)], "patch": [],
       "formula": []}
for _ in range(repeat):
    w, c, _found = timed(patch)
    out["patch"].append([w, c])
    if formula is not None:
        w, c, found = timed(formula)
        out["formula"].append([w, c])
        out["formula_result"] = [found.change_class, len(found.lint)]
print(json.dumps(out))
"""


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_side(tree: Path, store: Path, metric: str, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="propose-keys-") as tmp:
        copy = Path(tmp) / "store.sqlite"
        shutil.copy(store, copy)
        env = {**os.environ, "PYTHONPATH": str(tree), "KPIGRAPH_LANG": "en"}
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(copy), metric, str(repeat)],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--metric", default="m005000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rounds: list[dict[str, Any]] = []
    for n in range(args.rounds):
        for side, tree in (("before", args.before), ("after", args.after)):
            start = loadavg()
            result = run_side(tree, args.store, args.metric, args.repeat)
            rounds.append(
                {"round": n, "side": side, "load_start": start, "load_end": loadavg(), **result}
            )
            print(json.dumps(rounds[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rounds, indent=1))


if __name__ == "__main__":
    main()
