"""The ``kpigraph`` command line: a lazy root group, one module per concern.

Commands are named in :data:`LAZY_COMMANDS` as ``"module:attribute"`` and imported only
when they run (or when their help is asked for), so ``kpigraph --help`` imports click and
nothing else. To add a command: write it in a module of this package and add one line here.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
from typing import Any

# the collector paused while the command line's modules are imported: their classes and
# functions are never garbage, and the collections their allocations set off were ~2 ms of a
# one-file `kpigraph load` (#23); resumed below, the modules imported
_collecting = gc.isenabled()
gc.disable()
try:
    import click

    from cli.help_text import Group, asked_language, speak_click, version_option
    from core import i18n
    from core.i18n import N_, _

    speak_click()
finally:
    if _collecting:
        gc.enable()

#: command name -> "module:attribute"; the module is imported when the command runs.
LAZY_COMMANDS: dict[str, str] = {
    # catalog files
    "init": "cli.catalog:init",
    "validate": "cli.catalog:validate",
    "load": "cli.catalog:load",
    "pull": "cli.sync:pull",
    "lint": "cli.lint:lint",
    "infer-fields": "cli.lint:infer_fields_cmd",
    "import": "cli.interop:import_group",
    "export": "cli.interop:export_group",
    # graph queries
    "show": "cli.query:show",
    "search": "cli.query:search",
    "lineage": "cli.query:lineage_cmd",
    "impact": "cli.query:impact_cmd",
    "path": "cli.query:path_cmd",
    "info": "cli.query:info",
    "render": "cli.query:render",
    # revisions, diffs, comparisons
    "history": "cli.history:history",
    "diff": "cli.history:diff",
    "compare": "cli.history:compare",
    # values, evaluation, root cause, data quality
    "values": "cli.values:values_cmd",
    "eval": "cli.values:eval_cmd",
    "explain": "cli.values:explain_cmd",
    "check-values": "cli.values:check_values_cmd",
    # running things
    "serve": "cli.serve:serve",
    "mcp": "cli.mcp_cmd:mcp",
    "neo4j": "cli.neo4j_cmd:neo4j_group",
    "bench": "cli.bench:bench_group",
    # governance
    "users": "cli.users:users_group",
    "propose": "cli.changes:propose",
    "changes": "cli.changes:changes_group",
    "notifications": "cli.notifications:notifications_group",
    "inventory": "cli.inventory:inventory",
    "onboarding": "cli.onboarding:onboarding",
    "quiz": "cli.onboarding:quiz",
    "report": "cli.reports:report_group",
}


class LazyGroup(Group):
    """A group whose subcommands are imported on first use (click's documented pattern); it
    speaks the language asked for (``--lang``, ``KPIGRAPH_LANG``) from the first word it
    parses to the last error it shows, ``--help`` included."""

    def main(self, args: Any = None, *pargs: Any, **kwargs: Any) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        with i18n.use(asked_language(words)):
            return super().main(words, *pargs, **kwargs)

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            from core.bulk import paused_gc

            module_name, attr = self.lazy[cmd_name].split(":")
            with paused_gc():  # modules, never garbage (see the imports above)
                module = importlib.import_module(module_name)
            command = getattr(module, attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands with their short help without importing them: the help text is
        read from :data:`COMMAND_HELP`."""
        rows = [(name, _(COMMAND_HELP[name])) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)


#: one-line help per command, shown by ``kpigraph --help`` without importing the command.
COMMAND_HELP: dict[str, str] = {
    "init": N_("Scaffold a catalog (or copy an industry template)."),
    "validate": N_("Check a catalog without loading it; every problem with file and line."),
    "load": N_("Validate a catalog and replace the stored graph with it (all or nothing)."),
    "pull": N_("Write the store's approved changes back into the catalog files (edits in place)."),
    "lint": N_(
        "Check a catalog against the lint rules (conflicts, naming, levels, SQL vs fields)."
    ),
    "infer-fields": N_("Write each metric's 'fields:' from what its SQL reads."),
    "import": N_(
        "Make a catalog from dbt / MetricFlow (manifest or project) or an Excel workbook."
    ),
    "export": N_("Write a catalog as dbt YAML, an Excel workbook, or Cypher / GraphML / JSON."),
    "show": N_("A node's card: the full definition and its direct neighbours."),
    "search": N_("Search names (Chinese or English), abbreviations and definitions."),
    "lineage": N_("Upstream and/or downstream lineage of a node."),
    "impact": N_("What changing a metric, field, table or system affects, and whom to tell."),
    "path": N_("How two nodes connect: directed chains first."),
    "info": N_("What is loaded, where."),
    "render": N_("Write a self-contained HTML map of a node's neighbourhood."),
    "history": N_("Revisions (all, or those that changed REF) with their field-level changes."),
    "diff": N_("Compare two catalogs (dir, git:REV[:PATH], store, rev:N); impact; CI gate."),
    "compare": N_("Two metrics side by side, field by field, differences first."),
    "values": N_("Values of a metric by period, any grain (observed, by its SQL, or derived)."),
    "eval": N_("Evaluate a metric for a month: MoM, YoY, target attainment, rank, benchmarks."),
    "explain": N_("Why did a metric move? Driver tree, dimension members (rate/mix), causes."),
    "check-values": N_("Data quality of values: identity, missing months, benchmarks, anomalies."),
    "serve": N_("Serve the HTTP API and the pages."),
    "mcp": N_("Serve the dictionary to an AI assistant over MCP (stdio)."),
    "neo4j": N_("Run a local Neo4j Community 5.26 without Docker."),
    "bench": N_("Benchmarks (on demand; results go to BENCHMARKS.md)."),
    "users": N_("Users, roles and API tokens (add / list / revoke)."),
    "propose": N_("Propose a metric change (a YAML file or a catalog dir) to a server."),
    "changes": N_("Change requests on a server: list, show, approve, reject, apply."),
    "notifications": N_("The notification outbox: list, retry failed deliveries."),
    "inventory": N_(
        "The metric inventory: definition status computed, P0 first; the unification rate."
    ),
    "onboarding": N_("A department's reading list for new staff; marks read; the team's progress."),
    "quiz": N_("A quiz from the definitions of a department's reading list (seeded)."),
    "report": N_("Monthly usage per department, the quarterly digest; --send to their webhooks."),
}


@click.group(
    cls=LazyGroup,
    lazy=LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@version_option(package_name="kpigraph")
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default=None,
    envvar="KPIGRAPH_LANG",
    help="language of the output [env KPIGRAPH_LANG; default: the catalog's language]",
)
def cli(lang: str | None) -> None:
    """kpigraph — the metric dictionary as a knowledge graph: lineage and impact analysis.

    A REF is Kind:id (Metric:atp, Field:dms.dms_orders.total_amount), a bare id, or a
    name people know (客单价, ATP): names are resolved, ambiguous ones list the candidates.
    """
    # the language was chosen before parsing (LazyGroup.main): --help speaks it too


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line and a non-zero exit on any error, never a stack trace.

    Run as the program (``argv`` not given: the ``kpigraph`` script, ``python -m cli``), the
    process ends without the interpreter freeing its objects one by one (see :func:`_leave`).
    """
    from cli.common import run_guarded

    if argv is None:
        atexit.register(_leave)  # first registered: runs after every other exit handler
        # pydantic looks for plugins in every installed package's entry points when it builds
        # its first validator (~0.01 s of a one-file `kpigraph load`, #23); kpigraph uses none.
        # A user who wants theirs sets PYDANTIC_DISABLE_PLUGINS (empty: all of them load)
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if not os.environ.get("KPIGRAPH_DEBUG"):
        import logging

        # the driver logs each retry; the user gets one line from us instead
        logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    code = run_guarded(cli, argv)
    _exit_code[:] = [code]
    sys.exit(code)


#: the code :func:`main` exits with, once the command has finished
_exit_code: list[int] = []


def _leave() -> None:
    """The last exit handler: flush the output and end the process with the command's code.

    A command's objects (a load's index of every metric, the modules it imported) would be
    freed one by one by the interpreter's finalisation — ~0.05–0.1 s of a one-file ``kpigraph
    load`` of 0.5 s (#23) — for nothing: the process ends. Exit handlers have run (this one is
    registered first, so runs last) and other threads were joined before them; without a code
    (the command did not finish through :func:`main`) or when the output cannot be flushed, the
    interpreter ends as usual."""
    if not _exit_code:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(_exit_code[0])
