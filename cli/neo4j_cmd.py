"""``kpigraph neo4j``: a local Neo4j Community 5.26 without Docker."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from cli.common import err
from cli.help_text import Group
from core.i18n import _


@click.group(name="neo4j", cls=Group)
def neo4j_group() -> None:
    """Run a local Neo4j Community 5.26 without Docker (needs Java 17+ and Maven)."""


data_option = click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="data directory [default ~/.local/share/kpigraph/neo4j]",
)


@neo4j_group.command(name="start")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=7687,
    show_default=True,
    help="Bolt port the server listens on",
)
@data_option
@click.option("--heap", default="1g", show_default=True, help="JVM heap, e.g. 2g")
@click.option(
    "--pagecache-mb",
    type=click.IntRange(16),
    default=256,
    show_default=True,
    help="page cache in MB (the graph's store files held in memory)",
)
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
        err().print(_("building the Neo4j launcher with Maven (first use only)…"))
    started = time.perf_counter()
    server = launcher.start(
        port=port, data_dir=data, heap=heap, pagecache_mb=pagecache_mb, tx_max_mb=tx_max_mb
    )
    click.echo(server.uri)
    err().print(
        _(
            "Neo4j is up (pid {pid}, {seconds}s); log {log}\n"
            "use it with: export KPIGRAPH_BACKEND=neo4j KPIGRAPH_NEO4J_URI={uri}",
            pid=server.pid,
            seconds=f"{time.perf_counter() - started:.1f}",
            log=server.log,
            uri=server.uri,
        ),
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
        _(
            "launcher built: {jars} jars on the classpath ({seconds}s)",
            jars=jars,
            seconds=f"{time.perf_counter() - started:.1f}",
        )
    )


@neo4j_group.command(name="stop")
@data_option
def neo4j_stop(data: Path | None) -> None:
    """Stop the local Neo4j (clean shutdown)."""
    from neo4j_local import launcher

    click.echo(_("stopped") if launcher.stop(data) else _("not running"))


@neo4j_group.command(name="status")
@data_option
def neo4j_status(data: Path | None) -> None:
    """Whether the local Neo4j runs and answers; exit 1 when it does not."""
    from neo4j_local import launcher

    server = launcher.status(data)
    if server is None:
        click.echo(_("not running"))
        sys.exit(1)
    answers = launcher.bolt_answers(server.uri)
    said = (
        _("{uri} pid {pid} answering", uri=server.uri, pid=server.pid)
        if answers
        else _("{uri} pid {pid} NOT answering", uri=server.uri, pid=server.pid)
    )
    click.echo(said)
    if not answers:
        sys.exit(1)
