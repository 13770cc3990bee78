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

from core.i18n import N_, _
from graph_schema.errors import KpigraphError, SourceSpecError
from graph_schema.graph import CatalogGraph

PREFIX = "git:"
GIT_TIMEOUT = 60
CATALOG_SUFFIXES = (".yaml", ".yml")
#: all the catalog files of one ``git:`` read together (a catalog of 100,000 metrics is ~100
#: MB): git stores a blob of zeros, or one blob under many names, in a few kilobytes, and every
#: byte read is held in memory and written to the temporary directory
MAX_GIT_CATALOG_BYTES = 512 * 1024 * 1024
#: settings, given as command-line configuration (which wins over the repository's), that
#: keep git from running a program a hostile ``.git/config`` names: the file-system monitor,
#: hooks (``reference-transaction`` runs on ``update-ref``, ``post-index-change`` on ``status``),
#: signing programs and automatic maintenance
GUARD_CONFIG = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
)
#: no transport at all (a promisor remote's lazy fetch of a missing object would run an
#: ``ext::`` or ``ssh`` command), no pager, no prompt, no optional index writes
GUARD_ENV = {
    "GIT_ALLOW_PROTOCOL": "kpigraph-none",
    "GIT_NO_LAZY_FETCH": "1",
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
}
#: a configuration defining more filter drivers than this is refused (each is emptied in the
#: environment of every git run)
MAX_FILTER_DRIVERS = 256


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
    graph_schema.errors.SourceSpecError: 'git::catalog'...
    """
    if not spec.startswith(PREFIX):
        raise SourceSpecError(_("{spec} is not a git: spec", spec=repr(spec)), {"spec": spec})
    rev, _sep, path = spec[len(PREFIX) :].partition(":")
    rev, path = rev.strip(), path.strip() or "."
    example = _("write git:REV[:PATH], e.g. git:HEAD~1:catalog")
    if not rev:
        raise SourceSpecError(
            _("{spec}: no revision; {example}", spec=repr(spec), example=example), {"spec": spec}
        )
    if rev.startswith("-") or any(c in rev for c in " \t\n\x00"):
        raise SourceSpecError(
            _(
                "{spec}: {rev} is not a revision; {example}",
                spec=repr(spec),
                rev=repr(rev),
                example=example,
            ),
            {"spec": spec},
        )
    if PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts or "\x00" in path:
        raise SourceSpecError(
            _("{spec}: PATH must be relative and inside the repository", spec=repr(spec)),
            {"spec": spec},
        )
    return rev, path


def run_git(
    args: list[str],
    cwd: Path,
    *,
    data: bytes | None = None,
    env: dict[str, str] | None = None,
    error: type[KpigraphError] = SourceSpecError,
    need: str = N_("read git: specs"),
) -> bytes:
    """``git ARGS`` in ``cwd`` with explicit arguments (never a shell string): its standard
    output, or ``error`` saying what failed (git missing, a time-out, git's own last line)."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=data,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env=guarded_env(cwd, env, error),
        )
    except FileNotFoundError:
        raise error(_("git is not installed; install git to {need}", need=_(need))) from None
    except subprocess.TimeoutExpired:
        raise error(
            _(
                "git {command} took over {seconds} s in {cwd}",
                command=args[0],
                seconds=GIT_TIMEOUT,
                cwd=cwd,
            )
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise error(
            _(
                "git {command} failed in {cwd}: {error}",
                command=args[0],
                cwd=cwd,
                error=message[-1] if message else "error",
            ),
            {"cwd": str(cwd)},
        )
    return done.stdout


def guarded_env(
    cwd: Path, env: dict[str, str] | None = None, error: type[KpigraphError] = SourceSpecError
) -> dict[str, str]:
    """The environment of a git kpigraph runs in ``cwd``: ``env`` over ours, with every
    setting that would make git run a program the repository's own configuration names set
    off (see :data:`GUARD_CONFIG`, :data:`GUARD_ENV`), and every ``filter.<driver>`` the
    configuration defines emptied (a clean filter runs when ``git status`` looks at a file).

    A checkout is data from whoever made it: a ``.git`` directory that came in a tarball, or
    a shared directory, may name ``core.fsmonitor``, hooks, filters or a promisor remote's
    ``ext::`` URL. Configuration given in the environment (``GIT_CONFIG_COUNT``) wins over
    the repository's, as ``git -c`` does."""
    out = {**os.environ, **(env or {}), **GUARD_ENV}
    pairs = [*GUARD_CONFIG]
    for driver in _filter_drivers(cwd, {**out, **_config_env(out, pairs)}, error):
        pairs += [(f"filter.{driver}.{key}", "") for key in ("clean", "smudge", "process")]
        pairs.append((f"filter.{driver}.required", "false"))
    return {**out, **_config_env(out, pairs)}


def _config_env(env: dict[str, str], pairs: list[tuple[str, str]]) -> dict[str, str]:
    """``GIT_CONFIG_COUNT``/``KEY_n``/``VALUE_n`` setting ``pairs`` after any ``env`` has."""
    try:
        start = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        start = 0
    out = {"GIT_CONFIG_COUNT": str(start + len(pairs))}
    for i, (key, value) in enumerate(pairs, start):
        out[f"GIT_CONFIG_KEY_{i}"] = key
        out[f"GIT_CONFIG_VALUE_{i}"] = value
    return out


def _filter_drivers(cwd: Path, env: dict[str, str], error: type[KpigraphError]) -> list[str]:
    """The ``filter.<driver>`` names git's configuration in ``cwd`` defines (reading the
    configuration runs nothing)."""
    try:
        done = subprocess.run(
            ["git", "config", "-z", "--name-only", "--get-regexp", r"^filter\."],
            cwd=cwd,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env=env,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return []  # the git that follows says what is wrong
    names = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    drivers = sorted({n[len("filter.") :].rpartition(".")[0] for n in names if "." in n[7:]})
    if len(drivers) > MAX_FILTER_DRIVERS:
        raise error(
            _(
                "the git configuration in {cwd} defines {count} filter drivers (at most "
                "{limit}); kpigraph runs no git there",
                cwd=cwd,
                count=len(drivers),
                limit=MAX_FILTER_DRIVERS,
            ),
            {"cwd": str(cwd)},
        )
    return drivers


def _git(args: list[str], cwd: Path, *, data: bytes | None = None) -> bytes:
    return run_git(args, cwd, data=data)


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
                _("{spec}: {where} is not inside a git repository", spec=repr(spec), where=where),
                {"spec": spec},
            ) from None
        raise SourceSpecError(
            _(
                "{spec}: unknown revision {rev} in {where}",
                spec=repr(spec),
                rev=repr(rev),
                where=where,
            ),
            {"spec": spec},
        ) from None
    sha = commit.decode().strip()
    prefix = path.rstrip("/") if path != "." else ""
    listing = _git(["ls-tree", "-r", "-l", "-z", "--full-tree", sha, "--"], where)
    cwd_prefix = _git(["rev-parse", "--show-prefix"], where).decode().strip()
    base = str(PurePosixPath(cwd_prefix) / prefix) if prefix else cwd_prefix.rstrip("/")
    base = os.path.normpath(base) if base else ""
    base = "" if base == "." else base
    files = catalog_entries(
        listing, base, _("{spec} (commit {sha})", spec=repr(spec), sha=sha[:12])
    )
    if not any(_rel(name, base) == "kpigraph.yaml" for name in files):
        raise SourceSpecError(
            _(
                "{spec}: no kpigraph catalog at {path} in commit {sha} (kpigraph.yaml missing)",
                spec=repr(spec),
                path=repr(path),
                sha=sha[:12],
            ),
            {"spec": spec, "commit": sha},
        )
    batch = "".join(f"{sha}:{name}\n" for name in files).encode("utf-8", "surrogateescape")
    blobs = _read_batch(_git(["cat-file", "--batch"], where, data=batch), len(files))
    tmp = Path(tempfile.mkdtemp(prefix="kpigraph-git-"))
    try:
        for name, content in zip(files, blobs, strict=True):
            _write_inside(tmp, _rel(name, base), content)
        graph = load_catalog(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    meta = {**graph.meta, "source": spec, "git_commit": sha}
    return CatalogGraph(graph.name, graph.nodes, graph.edges, meta)


def catalog_entries(listing: bytes, base: str, where: str) -> list[str]:
    r"""The catalog files to read from ``git ls-tree -r -z`` output (``mode type sha\tname``,
    or with ``-l`` ``mode type sha size\tname``): regular ``.yaml``/``.yml`` blobs below
    ``base``.

    A tree is data from whoever made the commit (``git mktree`` writes any entry names), so
    every entry is checked before anything is read or written: a name with an empty, ``.``,
    ``..`` or ``.git`` component or a backslash anywhere in the tree, and a symlink (mode
    ``120000``), submodule (``160000``) or duplicate name below ``base``, make the whole read a
    :class:`SourceSpecError` naming the entry. With sizes (``-l``), a catalog file past the
    loader's per-file limit, or all of them together past :data:`MAX_GIT_CATALOG_BYTES`, is
    refused before any is read.

    Examples
    --------
    >>> listing = b"100644 blob e69d\tc/kpigraph.yaml\x00100644 blob e69d\tREADME\x00"
    >>> catalog_entries(listing, "c", "x")
    ['c/kpigraph.yaml']
    >>> catalog_entries(b"100644 blob e69d\tc/x/../../f.yaml\x00", "c", "git:HEAD:c")
    Traceback (most recent call last):
    ...
    graph_schema.errors.SourceSpecError: git:HEAD:c...'c/x/../../f.yaml'...
    """
    files: list[str] = []
    seen: set[str] = set()
    total = 0
    for record in listing.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        meta, _sep, name = record.partition("\t")
        mode, kind, _sha, size = [*meta.split(), "", "", "", ""][:4]
        problem = _bad_name(name)
        below = not base or name.startswith(base + "/")
        if problem is None and below:
            if mode == "120000":
                problem = _("a symbolic link (catalogs read from git hold regular files only)")
            elif mode == "160000" or kind == "commit":
                problem = _("a submodule (catalogs read from git hold regular files only)")
            elif kind != "blob" or mode not in ("100644", "100755"):
                problem = _(
                    "an entry of mode {mode} {kind}, not a regular file", mode=mode, kind=kind
                )
            elif name in seen:
                problem = _("a duplicate name in the tree")
        if problem is not None:
            raise SourceSpecError(
                _(
                    "{where}: refused tree entry {name}: {problem}; the commit's tree is "
                    "malformed or hostile — nothing was written",
                    where=where,
                    name=repr(name),
                    problem=problem,
                ),
                {"entry": name, "reason": problem},
            )
        seen.add(name)
        if below and name.endswith(CATALOG_SUFFIXES):
            files.append(name)
            total += _check_size(name, int(size) if size.isdigit() else 0, total, where)
    return files


def _check_size(name: str, size: int, total: int, where: str) -> int:
    """``size``, unless the blob is past the per-file limit or brings the catalog past
    :data:`MAX_GIT_CATALOG_BYTES` (a :class:`SourceSpecError`: nothing is read)."""
    from loaders.catalog_file import MAX_FILE_BYTES

    if size > MAX_FILE_BYTES:
        problem = _(
            "{size} bytes; catalog files are limited to {limit} MiB",
            size=f"{size:,}",
            limit=MAX_FILE_BYTES // 1_048_576,
        )
    elif total + size > MAX_GIT_CATALOG_BYTES:
        problem = _(
            "the catalog's files pass {limit} MiB together (one blob may be named many times)",
            limit=MAX_GIT_CATALOG_BYTES // 1_048_576,
        )
    else:
        return size
    raise SourceSpecError(
        _(
            "{where}: refused tree entry {name}: {problem}; nothing was read",
            where=where,
            name=repr(name),
            problem=problem,
        ),
        {"entry": name, "reason": problem},
    )


def _bad_name(name: str) -> str | None:
    """Why a tree path may not be written below a directory (in words), or ``None``."""
    if not name:
        return _("an empty name")
    if name.startswith("/"):
        return _("an absolute path")
    if "\\" in name:
        return _("a backslash in the name")
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return (
                _("a {part} path component", part=repr(part))
                if part
                else _("an empty path component")
            )
        if part.casefold().rstrip(". ") == ".git":
            return _("a {part} path component", part="'.git'")
    return None


def _write_inside(root: Path, rel: str, content: bytes) -> None:
    """Write ``content`` at ``root/rel``, refusing any path that would land outside ``root``
    (checked again after normalisation, whatever :func:`catalog_entries` let through)."""
    target = root / rel
    base = root.resolve()
    if not target.parent.resolve().is_relative_to(base) or _bad_name(rel) is not None:
        raise SourceSpecError(
            _("refused to write {path} outside {root}", path=repr(rel), root=root), {"entry": rel}
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o600)
    except OSError as exc:
        raise SourceSpecError(
            _("cannot write {path} below {root}: {error}", path=repr(rel), root=root, error=exc),
            {"entry": rel},
        ) from None
    with os.fdopen(fd, "wb") as out:
        out.write(content)


def _rel(name: str, base: str) -> str:
    return name[len(base) + 1 :] if base else name


def _read_batch(out: bytes, count: int) -> list[bytes]:
    """Blobs from ``git cat-file --batch`` output: ``<sha> blob <size>\\n<bytes>\\n`` each."""
    blobs: list[bytes] = []
    pos = 0
    for _i in range(count):
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
        status = _git(["status", "--porcelain", "--ignore-submodules=all", "--", "."], root)
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
