"""Reading a large catalog's files ahead, in worker processes.

Parsing and validating a file needs nothing but the file: :class:`Prefetch` hands the files a
read is about to need to worker processes (one per core, at most four), so that while the
reading process assembles one file's nodes, the next ones are being read. What a worker does
with a file is its ``task``: by default it parses the YAML (the value comes back pickled); a
catalog read gives it :func:`loaders.catalog_read.read_file_ahead`, which reads and validates
the whole file and sends back its cache entry (:mod:`loaders.file_entries`) — at L the
validation of 370,000 fields and 100,000 metrics moves off the reading process.

Only where it is safe and worth it: on Linux with the ``fork`` start method (workers start
without importing anything again), in a process running no other thread (forking one that
does may copy a lock held by another thread), for at least two files and
:data:`MIN_BYTES`. A file a worker cannot handle for any reason comes back as ``None``: the
reading process reads it itself and reports the problem with its line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.bulk import can_fork
from loaders.yaml_lines import load_yaml

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

#: below this many bytes to parse, starting workers costs more than it saves
MIN_BYTES = 2 << 20


def _parse(path: str, max_bytes: int) -> tuple[Any] | None:
    """``(value,)`` of one YAML file, or ``None`` when anything is wrong with it."""
    try:
        data = Path(path).read_bytes()
        if len(data) > max_bytes or b"\x00" in data:
            return None
        text = data.decode("utf-8")
        return (load_yaml(text[1:] if text.startswith("\ufeff") else text),)
    except Exception:  # the reading process reads it again and says what is wrong
        return None


def workers() -> int:
    """How many worker processes a prefetch may use here (0: none)."""
    return min(os.cpu_count() or 1, 4) if can_fork() else 0


class Prefetch:
    """Files being parsed by worker processes; :meth:`take` waits for one.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> files = [d / "a.yaml", d / "b.yaml"]
    >>> for i, f in enumerate(files):
    ...     _ = f.write_text(f"id: m{i}\\n")
    >>> with Prefetch(files, max_bytes=1 << 20, min_bytes=0) as ahead:
    ...     got, again = ahead.take(files[1]), ahead.take(files[1])
    >>> got in [({'id': 'm1'},), None], again  # None: parse it yourself (e.g. no workers here)
    (True, None)
    """

    def __init__(
        self,
        paths: list[Path],
        *,
        max_bytes: int,
        min_bytes: int | None = None,
        task: Callable[[str, int], tuple[Any] | None] = _parse,
    ) -> None:
        """``task(path, max_bytes)`` is what a worker does with a file (default: parse it);
        it must be a module-level function (or a ``functools.partial`` of one) and return
        ``(result,)``, or ``None`` for "do it yourself"."""
        self._futures: dict[Path, Future[tuple[Any] | None]] = {}
        self._pool: ProcessPoolExecutor | None = None
        n = workers()
        if n == 0 or len(paths) < 2:
            return
        sizes = []
        for path in paths:
            try:
                sizes.append(path.stat().st_size)
            except OSError:
                sizes.append(0)
        if sum(sizes) < (MIN_BYTES if min_bytes is None else min_bytes):
            return
        # imported here: a load that reads a file or two starts no workers (#23)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(
            max_workers=min(n, len(paths)), mp_context=multiprocessing.get_context("fork")
        )
        for path, size in zip(paths, sizes, strict=True):
            if 0 < size <= max_bytes:
                self._futures[path] = self._pool.submit(task, str(path), max_bytes)

    @property
    def active(self) -> bool:
        """Whether workers are parsing (tests check the path they take)."""
        return self._pool is not None

    def take(self, path: Path) -> tuple[Any] | None:
        """``(value,)`` the task produced for ``path`` ahead, or ``None``: do it yourself."""
        future = self._futures.pop(path, None)
        if future is None:
            return None
        try:
            return future.result()
        except Exception:  # a worker died (killed, out of memory): parse it here
            return None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures.clear()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
