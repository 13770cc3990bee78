"""Catalogs read from git without a checkout, and where a catalog on disk came from.

``git:REV[:PATH]`` names the catalog directory ``PATH`` (relative to the current directory,
default ``.``) as committed at ``REV``. Its files are listed with ``git ls-tree`` and read with
``git cat-file --batch`` into a private temporary directory, which the ordinary catalog loader
reads: the work tree, the index and HEAD are never touched.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from graph_schema.errors import SourceSpecError
from graph_schema.graph import CatalogGraph

PREFIX = "git:"
GIT_TIMEOUT = 60
CATALOG_SUFFIXES = (".yaml", ".yml")


def parse_git_spec(spec: str) -> tuple[str, str]:
    """``git:REV[:PATH]`` → ``(REV, PATH)``; ``PATH`` defaults to ``.``.

    Examples
    --------
    >>> parse_git_spec("git:HEAD~1:catalogs/automotive_aftersales")
    ('HEAD~1', 'catalogs/automotive_aftersales')
    >>> parse_git_spec("git:main")
    ('main', '.')
    >>> parse_git_spec("git::catalog")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graph_schema.errors.SourceSpecError: 'git::catalog': no revision; write git:REV[:PATH], ...
    """
    if not spec.startswith(PREFIX):
        raise SourceSpecError(f"{spec!r} is not a git: spec", {"spec": spec})
    rev, _, path = spec[len(PREFIX) :].partition(":")
    rev, path = rev.strip(), path.strip() or "."
    example = "write git:REV[:PATH], e.g. git:HEAD~1:catalog"
    if not rev:
        raise SourceSpecError(f"{spec!r}: no revision; {example}", {"spec": spec})
    if rev.startswith("-") or any(c in rev for c in " \t\n\x00"):
        raise SourceSpecError(f"{spec!r}: {rev!r} is not a revision; {example}", {"spec": spec})
    if PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts or "\x00" in path:
        raise SourceSpecError(
            f"{spec!r}: PATH must be relative and inside the repository", {"spec": spec}
        )
    return rev, path


def _git(args: list[str], cwd: Path, *, data: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=data,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise SourceSpecError("git is not installed; install git to read git: specs") from None
    except subprocess.TimeoutExpired:
        raise SourceSpecError(f"git {args[0]} took over {GIT_TIMEOUT} s in {cwd}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SourceSpecError(
            f"git {args[0]} failed in {cwd}: {message[-1] if message else 'error'}",
            {"cwd": str(cwd)},
        )
    return done.stdout


def load_git_catalog(spec: str, cwd: str | Path | None = None) -> CatalogGraph:
    """The catalog named by ``git:REV[:PATH]``, read from the repository around ``cwd``.

    Raises
    ------
    SourceSpecError
        A malformed spec, not a repository, an unknown revision, or no catalog at ``PATH``.
    CatalogError
        The committed catalog does not validate (files are named relative to ``PATH``).
    """
    from loaders.catalog import load_catalog

    rev, path = parse_git_spec(spec)
    where = Path(cwd or os.getcwd())
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], where)
    except SourceSpecError as exc:
        if "not a git repository" in exc.message:
            raise SourceSpecError(
                f"{spec!r}: {where} is not inside a git repository", {"spec": spec}
            ) from None
        raise SourceSpecError(
            f"{spec!r}: unknown revision {rev!r} in {where}", {"spec": spec}
        ) from None
    sha = commit.decode().strip()
    prefix = path.rstrip("/") if path != "." else ""
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", "--name-only", sha, "--"], where)
    cwd_prefix = _git(["rev-parse", "--show-prefix"], where).decode().strip()
    base = str(PurePosixPath(cwd_prefix) / prefix) if prefix else cwd_prefix.rstrip("/")
    base = os.path.normpath(base) if base else ""
    base = "" if base == "." else base
    files = [
        name
        for name in listing.decode("utf-8", "surrogateescape").split("\0")
        if name and name.endswith(CATALOG_SUFFIXES) and (not base or name.startswith(base + "/"))
    ]
    if not any(_rel(name, base) == "kpigraph.yaml" for name in files):
        raise SourceSpecError(
            f"{spec!r}: no kpigraph catalog at {path!r} in commit {sha[:12]} "
            "(kpigraph.yaml missing)",
            {"spec": spec, "commit": sha},
        )
    batch = "".join(f"{sha}:{name}\n" for name in files).encode("utf-8", "surrogateescape")
    blobs = _read_batch(_git(["cat-file", "--batch"], where, data=batch), len(files))
    tmp = Path(tempfile.mkdtemp(prefix="kpigraph-git-"))
    try:
        for name, content in zip(files, blobs, strict=True):
            target = tmp / _rel(name, base)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        graph = load_catalog(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    meta = {**graph.meta, "source": spec, "git_commit": sha}
    return CatalogGraph(graph.name, graph.nodes, graph.edges, meta)


def _rel(name: str, base: str) -> str:
    return name[len(base) + 1 :] if base else name


def _read_batch(out: bytes, count: int) -> list[bytes]:
    """Blobs from ``git cat-file --batch`` output: ``<sha> blob <size>\\n<bytes>\\n`` each."""
    blobs: list[bytes] = []
    pos = 0
    for _ in range(count):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if len(header) < 3 or header[1] != b"blob":
            raise SourceSpecError(f"git cat-file: unexpected {header!r}")
        size = int(header[2])
        blobs.append(out[end + 1 : end + 1 + size])
        pos = end + 1 + size + 1
    return blobs


def source_info(path: str | Path) -> dict[str, Any]:
    """Where a catalog directory came from: its path and, inside a git work tree, the commit
    and whether the catalog has uncommitted changes (``dirty``)."""
    root = Path(path).resolve()
    info: dict[str, Any] = {"path": str(root)}
    try:
        sha = _git(["rev-parse", "HEAD"], root).decode().strip()
        status = _git(["status", "--porcelain", "--", "."], root)
    except SourceSpecError:
        return info
    info["git_commit"] = sha
    info["dirty"] = bool(status.strip())
    return info


def default_author(path: str | Path | None = None) -> str:
    """git's ``user.name`` (from the catalog's repository), else the OS user."""
    try:
        name = _git(["config", "user.name"], Path(path or os.getcwd())).decode().strip()
    except (SourceSpecError, OSError):
        name = ""
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
