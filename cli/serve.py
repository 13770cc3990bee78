"""``kpigraph serve``: the HTTP API and the pages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli import render
from cli.common import DEMO_CATALOG, err, store_options, where
from graph_schema.errors import KpigraphError
from loaders.catalog import load_catalog

if TYPE_CHECKING:
    from core.settings import Settings
    from store.base import GraphStore


@click.command()
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
        render.store_info(err(), info, where(settings))
    else:
        store.ping()
    err().print(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings, store), host=host, port=port, log_level="warning")
