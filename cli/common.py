"""What every command shares: consoles, the store options, JSON output, the error handler.

Catalog text reaches the terminal only through :func:`safe`, which escapes rich markup and
shows control characters as escapes: a metric named ``[red]x[/]`` or holding ``ESC[2J`` is
printed as written, never interpreted.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console

    from core.settings import Settings
    from graph_schema.errors import KpigraphError
    from graph_schema.graph import CatalogGraph
    from graph_schema.ids import NodeRef
    from store.base import GraphStore

F = TypeVar("F", bound=Callable[..., Any])

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = PROJECT_ROOT / "catalogs"
DEMO_CATALOG = TEMPLATES_DIR / "automotive_aftersales"

# C0 and C1 control characters and DEL, except tab and newline; shown as \xNN / \uNNNN
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` with control characters (ESC, NUL, bidi overrides …) shown as escapes.

    Examples
    --------
    >>> printable("a\\x1b[2Jb\\x00")
    'a\\\\x1b[2Jb\\\\x00'
    >>> printable("客单价\\tATP")
    '客单价\\tATP'
    """

    def esc(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL_RE.sub(esc, str(text))


def safe(text: object) -> str:
    """``text`` ready to go into a rich markup string: control characters escaped and
    markup brackets escaped, so it is printed exactly as written.

    Examples
    --------
    >>> safe("[red]r[/red] [link=http://evil.example]x[/link]")
    '\\\\[red]r\\\\[/red] \\\\[link=http://evil.example]x\\\\[/link]'
    """
    from rich.markup import escape

    return escape(printable(text))


def make_console(stderr: bool = False) -> Console:
    """A console that does not squeeze tables to 80 columns when piped, and never turns
    text into hyperlinks or emoji on its own."""
    from rich.console import Console

    probe = Console(stderr=stderr)
    # messages on stderr are never wrapped: one error, one line
    return Console(
        stderr=stderr,
        width=None if probe.is_terminal else 160,
        soft_wrap=stderr,
        emoji=False,
        highlight=False,
    )


@functools.cache
def out() -> Console:
    return make_console()


@functools.cache
def err() -> Console:
    return make_console(stderr=True)


def emit_json(model: BaseModel | dict[str, Any] | list[Any]) -> None:
    """Print ``model`` as JSON — always valid JSON: a NaN or infinity (which ``json.dumps``
    would print as the non-JSON ``NaN``/``Infinity``) becomes ``null``."""
    data = model if isinstance(model, dict | list) else model.model_dump(mode="json")
    try:
        text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False)
    except ValueError:
        text = json.dumps(finite(data), ensure_ascii=False, indent=2, allow_nan=False)
    click.echo(text)


def finite(data: Any) -> Any:
    """``data`` with every non-finite float replaced by ``None``.

    Examples
    --------
    >>> finite({"a": [1.5, float("nan")], "b": float("inf")})
    {'a': [1.5, None], 'b': None}
    """
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


json_option = click.option("--json", "as_json", is_flag=True, help="print JSON instead of tables")


def settings_from(db: Path | None, backend: str | None) -> Settings:
    from core.settings import Settings

    overrides: dict[str, Any] = {}
    if db is not None:
        overrides["db"] = db
    if backend is not None:
        overrides["backend"] = backend
    return Settings(**overrides)


def store_options(func: F) -> F:
    """``--db`` and ``--backend`` on every command that touches the store; the command gets
    ``store`` and ``settings`` and the store is closed afterwards. The ``store`` reads one
    published graph for the whole command (:class:`store.pinned.PinnedStore`), re-read after a
    load it makes itself."""

    @click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="embedded store file [env KPIGRAPH_DB; default "
        "~/.local/share/kpigraph/kpigraph.sqlite]",
    )
    @click.option(
        "--backend",
        type=click.Choice(["embedded", "neo4j"]),
        default=None,
        help="storage backend [env KPIGRAPH_BACKEND; default embedded]",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, db: Path | None, backend: str | None, **kwargs: Any) -> Any:
        from core import i18n
        from core.bulk import paused_gc

        with paused_gc():  # the store's modules imported: never garbage (see cli/__init__)
            from core.wiring import build_store
            from store.pinned import PinnedStore

            settings = settings_from(db, backend)
            store = build_store(settings)
        pinned = PinnedStore(store)

        def catalog_language() -> str | None:
            # the store's own meta, not the pinned snapshot's: a snapshot not read yet would
            # read the whole graph to answer (after a delta load: ~15% of its time at M)
            lang = store.info().meta.get("language")
            return lang if isinstance(lang, str) else None

        token = i18n.set_fallback(catalog_language)  # --lang, else the catalog's language
        try:
            return func(*args, store=pinned, settings=settings, **kwargs)
        except BaseException as exc:
            i18n.remember_language(exc)  # reported after the store is closed
            raise
        finally:
            i18n.reset_fallback(token)
            store.close()

    return wrapper  # type: ignore[return-value]


def directory_language(directory: Path) -> str | None:
    """The ``language`` of the catalog in ``directory`` (its ``kpigraph.yaml``), if it says."""
    from loaders.catalog_file import manifest_language

    return manifest_language(directory)


def speaks_directory_language(func: F) -> F:
    """The command answers in the language of the catalog directory it reads (its
    ``directory`` argument) unless ``--lang`` chose one: ``validate``, ``lint``, ``init`` and
    ``load`` speak as the files do, not as the store (empty before a first load)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from core import i18n

        directory = Path(kwargs["directory"] if "directory" in kwargs else kwargs["catalog"])
        token = i18n.set_fallback(lambda: directory_language(directory))
        try:
            return func(*args, **kwargs)
        except BaseException as exc:
            i18n.remember_language(exc)  # reported in the files' language
            raise
        finally:
            i18n.reset_fallback(token)

    return wrapper  # type: ignore[return-value]


def where(settings: Settings) -> str:
    from core.settings import Backend

    return str(settings.db) if settings.backend is Backend.EMBEDDED else settings.neo4j_uri


def resolve(store: GraphStore, text: str) -> NodeRef:
    """A REF as typed: ``Kind:id``, a bare id, or a name / English name / abbreviation."""
    from analysis.resolve import resolve_ref

    return resolve_ref(store, text)


def announce_replacement(store: GraphStore, graph: CatalogGraph) -> None:
    """Say which loaded catalog a load replaces, when it is another one."""
    from graph_schema.errors import EmptyStoreError

    try:
        before = store.info()
    except EmptyStoreError:
        return
    if before.catalog != graph.name:
        from core.i18n import _

        err().print(
            _(
                "replacing the loaded catalog {before} (loaded {at}) with {after}",
                before=safe(repr(before.catalog)),
                at=safe(before.loaded_at),
                after=safe(repr(graph.name)),
            )
        )


def sweep_orphans(store: GraphStore) -> None:
    """Remove what killed or failed loads left in the store (Neo4j's unpublished staged
    generations, in bounded transactions) and say so on stderr; nothing for the embedded
    store, whose loads are one SQLite transaction."""
    sweep = getattr(store, "sweep_orphans", None)
    if sweep is None:
        return
    report = sweep()
    if report.nodes or report.loads:
        from core.i18n import _, ngettext

        removed = ngettext(
            "removed %(num)s node of unpublished generations",
            "removed %(num)s nodes of unpublished generations",
            report.nodes,
        ) % {"num": f"{report.nodes:,}"}
        abandoned = ngettext("%(num)s abandoned load", "%(num)s abandoned loads", report.loads) % {
            "num": report.loads
        }
        err().print(
            _("cleaned up first: {removed} ({abandoned})", removed=removed, abandoned=abandoned)
        )


def run_guarded(command: click.Command, argv: list[str] | None) -> int:
    """Run ``command``; turn every failure into one escaped line and an exit code."""
    from core import i18n

    try:
        # without standalone mode click *returns* the code of ctx.exit(n) / Exit(n)
        code = command.main(args=argv, prog_name="kpigraph", standalone_mode=False)
    except BaseException as exc:
        # the language the command spoke (else the one asked for: an error before it spoke)
        with i18n.use(i18n.language_of(exc) or _asked_language(argv)):
            return _report(exc)
    return code if isinstance(code, int) else 0


def _asked_language(argv: list[str] | None) -> str | None:
    """``--lang X`` of the command line, else ``KPIGRAPH_LANG``."""
    import sys

    from cli.help_text import asked_language

    return asked_language(list(sys.argv[1:] if argv is None else argv))


#: error codes of what the user typed wrong (exit 2)
USAGE_ERRORS = frozenset({"not_found", "unknown_name", "invalid_period"})


def _report(exc: BaseException) -> int:
    """Print ``exc`` as one escaped line (or a catalog's issues) and return the exit code."""
    from core.i18n import _, ngettext
    from graph_schema.errors import CatalogError, KpigraphError

    try:
        raise exc
    except CatalogError as exc:
        from cli import render

        render.catalog_issues(err(), exc.issues)
        n = len(exc.issues)
        problems = ngettext("%(num)s problem in the catalog", "%(num)s problems in the catalog", n)
        label, nothing = (
            _("error:"),
            _("{problems}; nothing was loaded", problems=problems % {"num": n}),
        )
        err().print(_("{label} {text}", label=f"[red]{label}[/]", text=nothing))
        return 1
    except KpigraphError as exc:
        label = _("error:")
        err().print(_("{label} {text}", label=f"[red]{label}[/]", text=safe(exc.message)))
        for line in _detail_lines(exc):
            err().print(f"  {safe(line)}")
        # a metric, node, dimension or member not in the catalog (close matches listed), a
        # period written wrong: usage (exit 2), as click reports a bad option
        return 2 if exc.code in USAGE_ERRORS else 1
    except click.exceptions.Abort:
        err().print(_("aborted"))
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except KeyboardInterrupt:
        err().print(_("interrupted; the stored graph is unchanged unless a load completed"))
        return 130
    except Exception as exc:
        if os.environ.get("KPIGRAPH_DEBUG"):
            raise
        label = _("internal error:")
        said = f"{safe(type(exc).__name__)}: {safe(exc)} " + _(
            "(set KPIGRAPH_DEBUG=1 for the traceback, and please report it)"
        )
        err().print(_("{label} {text}", label=f"[red]{label}[/]", text=said))
        return 2


def _detail_lines(exc: KpigraphError) -> list[str]:
    """Candidates of an ambiguous name, and every metric of a version error, one per line."""
    from core.i18n import _

    details = exc.details
    lines: list[str] = []
    candidates = details.get("candidates")
    if isinstance(candidates, list) and candidates:
        lines.append(_("candidates:"))
        lines.extend(f"  {c}" for c in candidates)
    problems = details.get("problems")  # VersionError: one line per metric, all of them
    if exc.code == "version_not_bumped" and isinstance(problems, list) and len(problems) > 1:
        lines.extend(str(p) for p in problems[1:])  # the first is the error line itself
    if exc.code == "version_not_bumped":
        another = details.get("another_catalog")
        if isinstance(another, str):
            lines.append(another)
        lines.append(_("nothing was loaded; bump the versions (or --no-version-check to migrate)"))
    return lines
