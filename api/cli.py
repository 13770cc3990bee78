"""The ``kpigraph`` command line."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from analysis.card import node_card
from analysis.impact import impact
from analysis.lineage import lineage
from analysis.paths import find_paths
from analysis.results import Direction
from api import cli_render
from api.deps import build_store
from api.settings import Backend, Settings
from graph_schema.errors import CatalogError, KpigraphError
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.relations import parse_kinds, parse_relations
from loaders.catalog import load_catalog
from store.base import GraphStore, SearchQuery

F = TypeVar("F", bound=Callable[..., Any])

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = PROJECT_ROOT / "catalogs"


def _console(stderr: bool = False) -> Console:
    """A console that does not squeeze tables to 80 columns when piped."""
    probe = Console(stderr=stderr)
    # messages on stderr are never wrapped: one error, one line
    return Console(stderr=stderr, width=None if probe.is_terminal else 160, soft_wrap=stderr)


out = _console()
err = _console(stderr=True)


def _emit_json(model: BaseModel | dict[str, Any] | list[Any]) -> None:
    data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def store_options(func: F) -> F:
    """``--db`` and ``--backend`` on every command that touches the store."""

    @click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="embedded store file [env KPIGRAPH_DB; default "
        "~/.local/share/kpigraph/kpigraph.sqlite]",
    )
    @click.option(
        "--backend",
        type=click.Choice([b.value for b in Backend]),
        default=None,
        help="storage backend [env KPIGRAPH_BACKEND; default embedded]",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, db: Path | None, backend: str | None, **kwargs: Any) -> Any:
        overrides: dict[str, Any] = {}
        if db is not None:
            overrides["db"] = db
        if backend is not None:
            overrides["backend"] = backend
        settings = Settings(**overrides)
        store = build_store(settings)
        try:
            return func(*args, store=store, settings=settings, **kwargs)
        finally:
            store.close()

    return wrapper  # type: ignore[return-value]


def _where(settings: Settings) -> str:
    return str(settings.db) if settings.backend is Backend.EMBEDDED else settings.neo4j_uri


def _ref(text: str) -> NodeRef:
    return NodeRef.parse(text)


json_option = click.option("--json", "as_json", is_flag=True, help="print JSON instead of tables")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kpigraph")
def cli() -> None:
    """kpigraph — the metric dictionary as a knowledge graph: lineage and impact analysis.

    A REF is Kind:id (Metric:atp, Field:dms.dms_orders.total_amount); a bare id means a metric.
    """


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--template",
    default=None,
    help="start from a demo catalog: "
    + ", ".join(sorted(p.name for p in TEMPLATES_DIR.iterdir() if (p / "kpigraph.yaml").is_file()))
    if TEMPLATES_DIR.is_dir()
    else "start from a demo catalog",
)
@click.option("--force", is_flag=True, help="write into a non-empty directory")
def init(directory: Path, template: str | None, force: bool) -> None:
    """Scaffold a catalog in DIRECTORY."""
    if directory.exists() and any(directory.iterdir()) and not force:
        raise KpigraphError(f"{directory} is not empty; choose a new directory or pass --force")
    if template:
        source = TEMPLATES_DIR / template
        if not (source / "kpigraph.yaml").is_file():
            known = sorted(p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir())
            raise KpigraphError(f"unknown template {template!r}; choose one of {', '.join(known)}")
        shutil.copytree(source, directory, dirs_exist_ok=True)
    else:
        from api.scaffold import write_scaffold

        write_scaffold(directory)
    graph = load_catalog(directory)
    counts = graph.counts()
    click.echo(
        f"created catalog {graph.name!r} in {directory} "
        f"({counts['Metric']} metrics); next: kpigraph validate {directory}"
    )


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path))
@json_option
def validate(directory: Path, as_json: bool) -> None:
    """Check a catalog without loading it; lists every problem with file and line."""
    started = time.perf_counter()
    graph = load_catalog(directory)
    elapsed = time.perf_counter() - started
    counts = graph.counts()
    if as_json:
        _emit_json({"valid": True, "catalog": graph.name, "counts": counts})
        return
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    click.echo(f"catalog {graph.name!r} is valid: {summary} ({elapsed:.2f}s)")


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path))
@store_options
@json_option
def load(directory: Path, as_json: bool, store: GraphStore, settings: Settings) -> None:
    """Validate a catalog and replace the stored graph with it (all or nothing)."""
    started = time.perf_counter()
    graph = load_catalog(directory)
    total = len(graph.nodes) + len(graph.edges)
    show_bar = err.is_terminal and not as_json
    if show_bar:
        with Progress(
            TextColumn("loading"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("load", total=total)
            info = store.load(graph, progress=lambda done, _t: bar.update(task, completed=done))
    else:
        info = store.load(graph)
    elapsed = time.perf_counter() - started
    if as_json:
        _emit_json(
            {
                "catalog": info.catalog,
                "backend": info.backend,
                "counts": info.counts,
                "seconds": round(elapsed, 3),
            }
        )
        return
    cli_render.store_info(out, info, _where(settings))
    click.echo(f"done in {elapsed:.2f}s")


@cli.command()
@click.argument("ref")
@store_options
@json_option
def show(ref: str, as_json: bool, store: GraphStore, settings: Settings) -> None:
    """Show a node's card: the full definition and its direct neighbours."""
    card = node_card(store, _ref(ref))
    if as_json:
        _emit_json(card)
    else:
        cli_render.node_card(out, card)


@cli.command()
@click.argument("text", required=False, default="")
@click.option("--kind", "kinds", default="Metric", help="node kinds, comma-separated")
@click.option("--domain", default=None)
@click.option("--level", default=None, type=click.Choice(["L0", "L1", "L2", "L3"]))
@click.option("--status", default=None, type=click.Choice(["draft", "active", "deprecated"]))
@click.option("--department", default=None, help="owner or reviewer department id")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@store_options
@json_option
def search(
    text: str,
    kinds: str,
    domain: str | None,
    level: str | None,
    status: str | None,
    department: str | None,
    limit: int,
    offset: int,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Search names (Chinese or English), abbreviations and definitions."""
    query = SearchQuery(
        text=text,
        kinds=parse_kinds(kinds) or frozenset({NodeKind.METRIC}),
        domain=domain,
        level=level,
        status=status,
        department=department,
        limit=limit,
        offset=offset,
    )
    page = store.search(query)
    if as_json:
        _emit_json(
            {
                "total": page.total,
                "items": [
                    {"ref": str(n.ref), "name": n.name, "level": getattr(n, "level", None)}
                    for n in page.items
                ],
            }
        )
    else:
        cli_render.search_table(out, page)


@cli.command(name="lineage")
@click.argument("ref")
@click.option(
    "--direction",
    type=click.Choice([d.value for d in Direction]),
    default="both",
    show_default=True,
)
@click.option("--depth", type=int, default=3, show_default=True, help="hops, 1 to 10")
@click.option(
    "--relations", default=None, help="relation types, comma-separated (default: lineage)"
)
@click.option("--kinds", default=None, help="node kinds to report, comma-separated")
@store_options
@json_option
def lineage_cmd(
    ref: str,
    direction: str,
    depth: int,
    relations: str | None,
    kinds: str | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Upstream and/or downstream lineage of a node."""
    result = lineage(
        store,
        _ref(ref),
        Direction(direction),
        depth,
        parse_relations(relations),
        parse_kinds(kinds),
    )
    if as_json:
        _emit_json(result.model_dump(mode="json", exclude={"truncated"}))
    else:
        cli_render.lineage_table(out, result)


@cli.command(name="impact")
@click.argument("ref")
@store_options
@json_option
def impact_cmd(ref: str, as_json: bool, store: GraphStore, settings: Settings) -> None:
    """What changing a metric, field, table or system affects, and whom to tell."""
    report = impact(store, _ref(ref))
    if as_json:
        _emit_json(report)
    else:
        cli_render.impact_report(out, report)


@cli.command(name="path")
@click.argument("source")
@click.argument("target")
@click.option("--max-depth", type=int, default=4, show_default=True, help="hops, 1 to 8")
@click.option("-k", "k", type=int, default=5, show_default=True, help="paths to list, 1 to 50")
@click.option("--relations", default=None, help="relation types, comma-separated")
@store_options
@json_option
def path_cmd(
    source: str,
    target: str,
    max_depth: int,
    k: int,
    relations: str | None,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """How two nodes connect: up to K simple paths, shortest first."""
    result = find_paths(
        store,
        _ref(source),
        _ref(target),
        max_depth,
        k,
        parse_relations(relations) if relations else None,
    )
    if as_json:
        _emit_json(result)
    else:
        cli_render.paths_table(out, result)


@cli.command()
@store_options
@json_option
def info(as_json: bool, store: GraphStore, settings: Settings) -> None:
    """What is loaded, where."""
    data = store.info()
    if as_json:
        _emit_json(
            {
                "backend": data.backend,
                "catalog": data.catalog,
                "loaded_at": data.loaded_at,
                "counts": data.counts,
                "where": _where(settings),
            }
        )
    else:
        cli_render.store_info(out, data, _where(settings))
        click.echo(f"loaded at {data.loaded_at}")


@cli.command()
@click.argument("ref")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--direction",
    type=click.Choice([d.value for d in Direction]),
    default="both",
    show_default=True,
)
@click.option("--depth", type=int, default=2, show_default=True, help="hops, 1 to 10")
@click.option("--relations", default=None, help="relation types, comma-separated")
@click.option("--max-nodes", type=click.IntRange(1, 2000), default=300, show_default=True)
@store_options
def render(
    ref: str,
    output: Path,
    direction: str,
    depth: int,
    relations: str | None,
    max_nodes: int,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Write a self-contained HTML map of REF's neighbourhood (works from file://, offline)."""
    from api.views import graph_view
    from viz.pages import render_graph_page

    view = graph_view(store, _ref(ref), Direction(direction), depth, relations, max_nodes)
    html = render_graph_page(view, static=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    shown = len(view.lineage.nodes) + 1
    more = f", {view.hidden} more not shown" if view.hidden else ""
    click.echo(f"wrote {output} ({shown} nodes{more}, {len(html) // 1024} KB)")


DEMO_CATALOG = TEMPLATES_DIR / "automotive_aftersales"


@cli.command()
@click.option(
    "--catalog",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="validate and load this catalog before serving",
)
@click.option("--demo", is_flag=True, help="load the after-sales demo catalog and serve it")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@store_options
def serve(
    catalog: Path | None,
    demo: bool,
    host: str,
    port: int,
    store: GraphStore,
    settings: Settings,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from api.app import create_app

    if demo and catalog:
        raise KpigraphError("pass either --demo or --catalog, not both")
    source = DEMO_CATALOG if demo else catalog
    if source is not None:
        info = store.load(load_catalog(source))
        cli_render.store_info(err, info, _where(settings))
    else:
        store.ping()
    err.print(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings, store), host=host, port=port, log_level="warning")


@cli.group(name="neo4j")
def neo4j_group() -> None:
    """Run a local Neo4j Community 5.26 without Docker (needs Java 17+ and Maven)."""


data_option = click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="data directory [default ~/.local/share/kpigraph/neo4j]",
)


@neo4j_group.command(name="start")
@click.option("--port", type=click.IntRange(1, 65535), default=7687, show_default=True)
@data_option
@click.option("--heap", default="1g", show_default=True, help="JVM heap, e.g. 2g")
@click.option("--pagecache-mb", type=click.IntRange(16), default=256, show_default=True)
@click.option(
    "--tx-max-mb",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="memory cap of one transaction in MB (0: the heap is the cap)",
)
def neo4j_start(port: int, data: Path | None, heap: str, pagecache_mb: int, tx_max_mb: int) -> None:
    """Build the launcher on first use, start Neo4j on 127.0.0.1, wait until Bolt answers."""
    from neo4j_local import launcher

    if not launcher.is_built():
        err.print("building the Neo4j launcher with Maven (first use only)…")
    started = time.perf_counter()
    server = launcher.start(
        port=port, data_dir=data, heap=heap, pagecache_mb=pagecache_mb, tx_max_mb=tx_max_mb
    )
    click.echo(server.uri)
    err.print(
        f"Neo4j is up (pid {server.pid}, {time.perf_counter() - started:.1f}s); log {server.log}\n"
        f"use it with: export KPIGRAPH_BACKEND=neo4j KPIGRAPH_NEO4J_URI={server.uri}",
        highlight=False,
    )


@neo4j_group.command(name="build")
def neo4j_build() -> None:
    """Compile the launcher and fetch Neo4j's jars with Maven (done by 'start' when needed)."""
    from neo4j_local import launcher

    started = time.perf_counter()
    classpath = launcher.build(quiet=False)
    jars = classpath.count(os.pathsep)
    click.echo(
        f"launcher built: {jars} jars on the classpath ({time.perf_counter() - started:.1f}s)"
    )


@neo4j_group.command(name="stop")
@data_option
def neo4j_stop(data: Path | None) -> None:
    """Stop the local Neo4j (clean shutdown)."""
    from neo4j_local import launcher

    click.echo("stopped" if launcher.stop(data) else "not running")


@neo4j_group.command(name="status")
@data_option
def neo4j_status(data: Path | None) -> None:
    """Whether the local Neo4j runs and answers; exit 1 when it does not."""
    from neo4j_local import launcher

    server = launcher.status(data)
    if server is None:
        click.echo("not running")
        sys.exit(1)
    answers = launcher.bolt_answers(server.uri)
    click.echo(f"{server.uri} pid {server.pid} {'answering' if answers else 'NOT answering'}")
    if not answers:
        sys.exit(1)


@cli.group(name="bench")
def bench_group() -> None:
    """Benchmarks (on demand; results go to BENCHMARKS.md)."""


@bench_group.command(name="generate")
@click.option("--metrics", "n_metrics", type=click.IntRange(10, 1_000_000), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
def bench_generate(n_metrics: int, seed: int, out_dir: Path) -> None:
    """Write a synthetic catalog with a realistic shape into OUT_DIR."""
    from benchmarks.generate import generate

    if out_dir.exists() and any(out_dir.iterdir()):
        raise KpigraphError(f"{out_dir} is not empty; choose a new directory")
    started = time.perf_counter()
    made = generate(n_metrics, seed, out_dir)
    click.echo(
        f"wrote {made.metrics} metrics and {made.fields} fields to {out_dir} "
        f"({time.perf_counter() - started:.1f}s); heaviest fields: {', '.join(made.hot_fields)}"
    )


@bench_group.command(name="run")
@click.option("--size", type=click.Choice(["S", "M", "L"]), default="M", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--backends", default="embedded,neo4j", show_default=True)
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--neo4j-uri", default=None, help="use this server instead of starting one")
@click.option("--naive/--no-naive", default=None, help="time the row-at-a-time loader too")
def bench_run(
    size: str,
    seed: int,
    backends: str,
    workdir: Path | None,
    neo4j_uri: str | None,
    naive: bool | None,
) -> None:
    """Measure load, lineage, impact, search, API overhead and RSS; print and save JSON."""
    from benchmarks.run import run

    chosen = tuple(b.strip() for b in backends.split(",") if b.strip())
    results = run(size, seed, workdir, chosen, neo4j_uri, naive, log=lambda m: err.print(m))
    click.echo(json.dumps(results, ensure_ascii=False, indent=2))


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line and a non-zero exit on any error, never a stack trace."""
    if not os.environ.get("KPIGRAPH_DEBUG"):
        # the driver logs each retry; the user gets one line from us instead
        logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    try:
        cli.main(args=argv, prog_name="kpigraph", standalone_mode=False)
    except CatalogError as exc:
        cli_render.catalog_issues(err, exc.issues)
        err.print(
            f"[red]error:[/] {len(exc.issues)} problem(s) in the catalog; nothing was loaded",
            highlight=False,
        )
        sys.exit(1)
    except KpigraphError as exc:
        err.print(f"[red]error:[/] {exc.message}", highlight=False)
        sys.exit(1)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted; the stored graph is unchanged unless a load completed")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("KPIGRAPH_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/] {type(exc).__name__}: {exc} "
            "(set KPIGRAPH_DEBUG=1 for the traceback, and please report it)",
            highlight=False,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
