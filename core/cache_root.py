"""Where kpigraph keeps what it computes once for later processes (per-file catalog cache,
search index files, compiled message catalogues): one per-user directory."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

#: The folder inside a catalog directory where ``kpigraph values refresh`` keeps the values it
#: fetched (:mod:`values.cache`): not part of the catalog (a load neither reads nor compares it).
CATALOG_CACHE_DIR = ".kpigraph-cache"


def default_cache_root() -> Path | None:
    """The cache directory for all catalogs (``None``: caching is off)."""
    configured = os.environ.get("KPIGRAPH_CACHE_DIR")
    if configured:
        return None if configured.lower() in ("off", "0", "no", "false") else Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "kpigraph"
    try:
        return Path.home() / ".cache" / "kpigraph"
    except RuntimeError:  # no home directory: no cache, loads still work
        return None


def own_private(st: os.stat_result) -> bool:
    """Owned by this user, writable by no one else."""
    uid = os.getuid() if hasattr(os, "getuid") else st.st_uid
    return st.st_uid == uid and not st.st_mode & 0o022


def private_directory(path: Path) -> int | None:
    """``path`` opened as a directory (not through a link) that this user owns and no one else
    may write, or ``None``. Whatever sits in a cache directory is trusted as this process's own
    work (the catalog cache's entries are pickles: reading one runs code), so a directory that
    another user made or may write to — a shared ``KPIGRAPH_CACHE_DIR``, a per-catalog folder
    made in advance there — is never read from nor written to."""
    flags = (
        os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    )
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        st = None
    if st is None or not stat.S_ISDIR(st.st_mode) or not own_private(st):
        os.close(fd)
        return None
    return fd


def is_private(path: Path) -> bool:
    """Whether :func:`private_directory` accepts ``path`` (a cache is written only there)."""
    fd = private_directory(path)
    if fd is None:
        return False
    os.close(fd)
    return True


def write_private(path: Path, write: Callable[[IO[bytes]], object], suffix: str = ".tmp") -> bool:
    """Write ``path`` whole or not at all (``write(file)`` gives its bytes to a temporary file
    of ``suffix`` beside it, then renamed over it), in its directory — made, closed to others,
    when missing — only when that directory is this user's own (:func:`is_private`): else
    nothing is written and the answer is ``False``. An ``OSError`` is raised (the temporary
    file removed); the caller, for whom the cache is never an error, passes it over."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not is_private(path.parent):
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def read_private(path: Path, limit: int | None = None) -> bytes | None:
    """The bytes of the regular file ``path`` when it and its directory are this user's own
    and no one else's to write (:func:`private_directory`; the file opened relative to the
    directory, not through a link), else ``None``; larger than ``limit`` bytes: ``None``."""
    dfd = private_directory(path.parent)
    if dfd is None:
        return None
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path.name, flags, dir_fd=dfd)
    except OSError:
        return None
    finally:
        os.close(dfd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not own_private(st):
            return None
        if limit is not None and st.st_size > limit:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
