"""Bulk work: pausing Python's cyclic garbage collector while many objects are built.

Reading a catalog, diffing it against the stored graph and building a store's in-memory
index create millions of long-lived objects (models, dicts, tuples). Each allocation counts
towards the collector's thresholds, so a collection of the oldest generation runs again and
again over everything built so far — at M (10,000 metrics) that was two thirds of
``kpigraph load`` (28.9 s with the collector, 14.7 s without, the same peak memory). None of
this work leaves reference cycles behind for the collector to find, and memory held by
ordinary references is still freed at once, so the collector is paused for the duration and
resumed after it.

Pauses nest and may overlap across threads (a request applying a change while the server
reads a new generation): the collector resumes when the last one ends.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = True


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the ``with`` block (reference counting
    still frees memory).

    Examples
    --------
    >>> import gc
    >>> with paused_gc():
    ...     inside = gc.isenabled()
    ...     with paused_gc():
    ...         nested = gc.isenabled()
    ...     still = gc.isenabled()
    >>> inside, nested, still, gc.isenabled()
    (False, False, False, True)
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


def settle() -> None:
    """Move every object alive now out of the collector's reach (:func:`gc.freeze`).

    Called after a long-lived structure was built (the embedded store's in-memory graph: at L
    millions of objects). Later collections then scan only what requests create, instead of
    walking the whole graph each time the oldest generation is collected; objects frozen are
    still freed by reference counting when the next load replaces them. At exit they are
    handed back to the collector (extension modules such as DuckDB's check, at shutdown, that
    their objects were collected, and complain on stderr otherwise).
    """
    global _unfreeze_at_exit
    if not _unfreeze_at_exit:
        atexit.register(gc.unfreeze)
        _unfreeze_at_exit = True
    gc.freeze()


_unfreeze_at_exit = False


def can_fork() -> bool:
    """Whether this process may ``fork`` a worker safely: Linux with the ``fork`` start method,
    and no other thread running (a lock another thread holds would be copied held).
    Used by the catalog prefetch, the catalog cache writer and the search index file writer."""
    # (multiprocessing offers "fork" wherever os.fork exists: not imported for this)
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


#: The resident size past which :func:`run_detached` is asked not to fork (bytes). A fork
#: copies the page tables of the whole process and, while the child lives, every page the
#: parent then touches (reference counts); a server holding the graph of L (7–8 GB) spent
#: seconds of an apply on it.
FORK_LIMIT = 1 << 30


def resident_bytes() -> int | None:
    """This process's resident set size (``None`` where ``/proc`` does not tell)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def run_detached(work: Callable[[], object], *, max_rss: int | None = None) -> bool:
    """Run ``work`` in a detached process (forked twice: nobody's child to wait for), so that
    the caller returns at once; False where forking is not safe (:func:`can_fork`), where this
    process is past ``max_rss`` bytes resident, or where the fork failed. Whatever ``work``
    raises is dropped with it: use it for what is only a cache."""
    if not can_fork():
        return False
    if max_rss is not None and (resident_bytes() or 0) > max_rss:
        return False
    try:
        pid = os.fork()
    except OSError:
        return False
    if pid == 0:  # the child forks the worker and exits
        status = 0
        try:
            if os.fork() == 0:
                try:
                    devnull = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):  # a caller reading the parent's output won't wait
                        os.dup2(devnull, fd)
                    work()
                finally:
                    os._exit(0)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return status == 0
