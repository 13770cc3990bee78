"""``kpigraph bench``: benchmarks on demand (results go to BENCHMARKS.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from cli.common import err
from cli.help_text import Group
from core.i18n import _
from graph_schema.errors import KpigraphError


@click.group(name="bench", cls=Group)
def bench_group() -> None:
    """Benchmarks (on demand; results go to BENCHMARKS.md)."""


@bench_group.command(name="generate")
@click.option(
    "--metrics",
    "n_metrics",
    type=click.IntRange(10, 1_000_000),
    required=True,
    help="how many metrics the generated catalog has (about 5 nodes and 12 edges each)",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="random seed: the same seed generates the same catalog",
)
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
def bench_generate(n_metrics: int, seed: int, out_dir: Path) -> None:
    """Write a synthetic catalog with a realistic shape into OUT_DIR."""
    from benchmarks.generate import generate

    if out_dir.exists() and any(out_dir.iterdir()):
        raise KpigraphError(_("{path} is not empty; choose a new directory", path=out_dir))
    started = time.perf_counter()
    made = generate(n_metrics, seed, out_dir)
    click.echo(
        f"wrote {made.metrics} metrics and {made.fields} fields to {out_dir} "
        f"({time.perf_counter() - started:.1f}s); heaviest fields: {', '.join(made.hot_fields)}"
    )


@bench_group.command(name="run")
@click.option(
    "--size",
    type=click.Choice(["S", "M", "L"]),
    default="M",
    show_default=True,
    help="catalog size: S 1,000, M 10,000, L 100,000 metrics",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="random seed: the same seed generates the same catalog",
)
@click.option(
    "--backends",
    default="embedded,neo4j",
    show_default=True,
    help="backends to measure, comma-separated",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="where the generated catalogs and stores go (default: a temporary directory)",
)
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
    results = run(size, seed, workdir, chosen, neo4j_uri, naive, log=lambda m: err().print(m))
    click.echo(json.dumps(results, ensure_ascii=False, indent=2))
