"""Run by test_delta_load_safety in a child process: ``kpigraph load`` (``python -m cli``)
that reports when the store's delta write reached ``POINT`` and then waits to be killed there.

usage: python -m tests.contract.delta_load_child POINT load DIR [options]

POINT is where the store stops (inside its write, before anything is published):

- ``rows``: the delta's rows are written (embedded: in the open transaction; Neo4j: the
  revision's change records staged in their own committed transactions)
- ``record``: the revision is recorded too (embedded: before ``COMMIT``; Neo4j: inside the
  swap transaction, after the swap and the revision's record)

The line printed says whether the stop is inside :meth:`GraphStore.apply` (a delta), so the
test knows it killed a delta load and not a full one.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import Any

state = {"apply": False}


def _stopping(point: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        print(f"writing {point} apply={state['apply']}", flush=True)
        time.sleep(120)  # killed here
        return result

    return wrapper


def _flagging(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state["apply"] = True
        return func(*args, **kwargs)

    return wrapper


def main(argv: list[str]) -> None:
    import store.embedded as embedded
    import store.neo4j as neo4j
    from store import embedded_history, embedded_write, neo4j_history

    point, args = argv[0], argv[1:]
    embedded.EmbeddedStore.apply = _flagging(embedded.EmbeddedStore.apply)  # type: ignore[method-assign]
    neo4j.Neo4jStore.apply = _flagging(neo4j.Neo4jStore.apply)  # type: ignore[method-assign]
    if point == "rows":
        embedded_write.write_changes = _stopping(point, embedded_write.write_changes)
        neo4j_history.stage = _stopping(point, neo4j_history.stage)
    elif point == "record":
        embedded_history.record = _stopping(point, embedded_history.record)
        neo4j_history.record = _stopping(point, neo4j_history.record)
    else:
        raise SystemExit(f"unknown point {point!r}")
    from cli import main as kpigraph

    kpigraph(args)


if __name__ == "__main__":
    main(sys.argv[1:])
