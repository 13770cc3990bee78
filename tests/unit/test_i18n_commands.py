"""Every command speaks one language (#24): the click command tree is walked, and each command
(or subcommand) must have an entry in :data:`RUNS` — the arguments that run it on the demo
catalog, in zh (the catalog's language) and with ``--lang en`` — or an explicit reason it
cannot run in a unit test (then its words are tested another way, named in the reason)."""

from __future__ import annotations

import datetime
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from core import i18n
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.helpers import DEMO
from tests.i18n_text import cjk_left, data_strings, english_left, without_data
from tests.unit.test_i18n import demo_data  # noqa: F401  (the fixture)

#: one step: the command's words; ``{db}``, ``{demo}`` and ``{tmp}`` are filled in
Step = tuple[str, ...]

#: command path -> the steps that run it (every step's output is checked), or a reason
RUNS: dict[str, tuple[Step, ...] | str] = {
    "bench generate": "writes a generated catalog of thousands of metrics (minutes); "
    "its lines are tested in tests/unit/test_bench_smoke.py",
    "bench run": "a benchmark run takes minutes; tests/unit/test_bench_smoke.py",
    "changes apply": "talks to a running server: test_server_commands_speak_one_language",
    "changes approve": "talks to a running server: test_server_commands_speak_one_language",
    "changes list": "talks to a running server: test_server_commands_speak_one_language",
    "changes reject": "talks to a running server: test_server_commands_speak_one_language",
    "changes show": "talks to a running server: test_server_commands_speak_one_language",
    "changes withdraw": "talks to a running server: test_server_commands_speak_one_language",
    "propose": "talks to a running server: test_server_commands_speak_one_language",
    "mcp": "speaks the MCP protocol on stdio; tests/api/test_mcp.py",
    "neo4j build": "builds Neo4j with Maven (minutes)",
    "neo4j start": "starts a Neo4j server (Java); the contract tests run it",
    "neo4j status": "asks a Neo4j server (Java); the contract tests run it",
    "neo4j stop": "stops a Neo4j server (Java); the contract tests run it",
    "serve": "runs until stopped; its start-up lines: test_serve_start_up_lines_speak_one_"
    "language below",
    "check-values": (("check-values", "--db", "{db}"),),
    # two different metrics fill the table with their definitions, cut short (…) where the
    # data filter cannot find them; the table's words are those of `history` and `diff`
    "compare": (("compare", "atp", "atp", "--db", "{db}"),),
    "diff": (("diff", "{demo}", "store", "--db", "{db}"),),
    "eval": (("eval", "revenue", "--period", "2026-06", "--by", "store", "--db", "{db}"),),
    "explain": (
        ("explain", "revenue", "--period", "2026-06", "--by", "store,order_type", "--db", "{db}"),
        ("explain", "atp", "--period", "2026-06", "--base", "yoy", "--by", "store", "--db", "{db}"),
    ),
    "export catalog": (("export", "catalog", "store", "-o", "{tmp}/cat", "--db", "{db}"),),
    "export dbt": (("export", "dbt", "{demo}", "-o", "{tmp}/dbt"),),
    "export excel": (("export", "excel", "{demo}", "-o", "{tmp}/c.xlsx"),),
    "export graph": (("export", "graph", "{demo}", "--format", "json", "-o", "{tmp}/g.json"),),
    "history": (("history", "atp", "--db", "{db}"),),
    "impact": (("impact", "visits", "--db", "{db}"),),
    "import dbt": (
        ("export", "dbt", "{demo}", "-o", "{tmp}/dbt"),
        ("import", "dbt", "{tmp}/dbt", "-o", "{tmp}/from_dbt"),
    ),
    "import excel": (
        ("export", "excel", "{demo}", "-o", "{tmp}/c.xlsx"),
        ("import", "excel", "{tmp}/c.xlsx", "-o", "{tmp}/from_excel"),
    ),
    "infer-fields": (("infer-fields", "{demo}", "--dry-run"),),
    "info": (("info", "--db", "{db}"),),
    "init": (("init", "{tmp}/new"),),
    "inventory": (("inventory", "--db", "{db}"),),
    "lineage": (("lineage", "atp", "--depth", "1", "--db", "{db}"),),
    "lint": (("lint", "{demo}"),),
    "load": (("load", "{demo}", "--db", "{tmp}/load.sqlite"),),
    "notifications list": (
        ("report", "monthly", "--month", "2026-06", "--send", "--db", "{db}"),
        ("notifications", "list", "--db", "{db}"),
    ),
    "notifications retry": (("notifications", "retry", "--no-deliver", "--db", "{db}"),),
    "onboarding": (("onboarding", "ops", "--db", "{db}"),),
    "path": (("path", "visits", "revenue", "--db", "{db}"),),
    "pull": (("pull", "{demo}", "--dry-run", "--db", "{db}"),),
    "quiz": (("quiz", "ops", "--seed", "1", "--db", "{db}"),),
    "render": (("render", "atp", "-o", "{tmp}/map.html", "--depth", "1", "--db", "{db}"),),
    "report monthly": (("report", "monthly", "--month", "2026-06", "--db", "{db}"),),
    # this quarter: the demo was loaded today, so its metrics are in the digest (2026Q2 is
    # empty and would print nothing)
    "report quarterly": (("report", "quarterly", "--quarter", "{quarter}", "--db", "{db}"),),
    "search": (("search", "营收", "--db", "{db}"),),
    "show": (("show", "atp", "--db", "{db}"),),
    "users add": (
        ("users", "add", "ann", "--role", "owner", "--department", "ops", "--db", "{db}"),
    ),
    "users list": (
        ("users", "add", "ann", "--role", "viewer", "--db", "{db}"),
        ("users", "list", "--db", "{db}"),
    ),
    "users revoke": (
        ("users", "add", "ann", "--role", "viewer", "--db", "{db}"),
        ("users", "revoke", "ann", "--db", "{db}"),
    ),
    "validate": (("validate", "{demo}"),),
    "values": (
        ("values", "revenue", "--from", "2026-05", "--to", "2026-06", "--db", "{db}"),
        ("values", "revenue", "--by", "store", "--from", "2026-06", "--db", "{db}"),
    ),
}


def command_paths() -> list[str]:
    """Every leaf command of ``kpigraph``, as typed (``users add``)."""
    from cli import cli

    found: list[str] = []

    def walk(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        if isinstance(command, click.Group):
            ctx = click.Context(command, info_name=path[-1] if path else "kpigraph", parent=parent)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, [*path, name], ctx)
        else:
            found.append(" ".join(path))

    walk(cli, [], None)
    return found


def test_every_command_has_an_entry() -> None:
    paths = command_paths()
    assert len(paths) > 40
    missing = sorted(set(paths) - RUNS.keys())
    assert missing == [], f"commands with no entry in RUNS (args, or a reason): {missing}"
    assert sorted(RUNS.keys() - set(paths)) == [], "RUNS names commands that do not exist"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "k.sqlite"
    store = EmbeddedStore(path)
    store.load(load_catalog(DEMO))
    store.close()  # everything in the one file, to be copied
    return path


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEMO, tmp_path / "demo"))


#: a command line quoted in a message (``'kpigraph serve --demo'``) and a dotted path
#: (``measure.agg``) are names in every language
NAMES = re.compile(r"'kpigraph [^']*'|\bkpigraph [a-z-]+( --?[a-z-]+)*|\w*(?:\.\w+)+\b")
BOX = re.compile(r"[│┃┏┓┗┛┡┩└┘━─┳┻╇┼├┤╭╮╰╯]+")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{24,}$")  # an API token, shown once


def _run(steps: tuple[Step, ...], lang: str | None, place: dict[str, str]) -> list[str]:
    from cli import cli

    lines: list[str] = []
    for step in steps:
        argv = [a.format(**place) for a in step]
        if lang:
            argv = ["--lang", lang, *argv]
        # wide: a line is not wrapped in the middle of a name or a path
        result = CliRunner(env={"COLUMNS": "3000"}).invoke(cli, argv, catch_exceptions=False)
        assert result.exit_code in (0, 1), (argv, result.output)
        text = result.output
        for value in place.values():  # paths and tokens are not words
            if len(value) > 3:
                text = text.replace(value, " ")
        lines += [
            BOX.sub(" ", x).strip()
            for x in text.splitlines()
            if x.strip() and not TOKEN.match(x.strip())
        ]
    return lines


def _left(lines: list[str], data: set[str]) -> list[str]:
    """What is left of a command's output once data, command lines and dotted names are out."""
    left = (NAMES.sub(" ", x).strip() for x in without_data(lines, data))
    return [x for x in left if x]


def _runnable() -> Iterator[str]:
    return iter(sorted(k for k, v in RUNS.items() if not isinstance(v, str)))


@pytest.mark.parametrize("command", list(_runnable()))
def test_commands_speak_one_language(
    command: str,
    loaded: Path,
    demo_copy: Path,
    tmp_path: Path,
    demo_data: set[str],  # noqa: F811
) -> None:
    steps = RUNS[command]
    assert not isinstance(steps, str)
    i18n.MISSES.clear()
    out: dict[str, list[str]] = {}
    for lang in ("zh", "en"):
        where = tmp_path / lang
        where.mkdir()
        db = where / "k.sqlite"
        shutil.copy(loaded, db)
        today = datetime.date.today()
        place = {"db": str(db), "demo": str(demo_copy), "tmp": str(where)}
        place["quarter"] = f"{today.year}Q{(today.month - 1) // 3 + 1}"
        out[lang] = _run(steps, "en" if lang == "en" else None, place)
        assert out[lang], f"{command} printed nothing"
    assert not i18n.MISSES, sorted(i18n.MISSES)
    data = demo_data | {"ann", "ops", "json", "MetricFlow", "Webhook"}
    for lang in ("zh", "en"):  # a catalog a command wrote (init's scaffold) is data too
        for manifest in (tmp_path / lang).glob("*/kpigraph.yaml"):
            graph = load_catalog(manifest.parent)
            data |= data_strings([n.model_dump(mode="json") for n in graph.nodes] + [graph.meta])
    chinese = cjk_left(_left(out["en"], data))
    assert chinese == [], "\n".join(["Chinese in --lang en:", *chinese])
    english = english_left(_left(out["zh"], data))
    assert english == [], "\n".join(["English in zh:", *english])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_serve_start_up_lines_speak_one_language(
    lang: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demo_data: set[str],  # noqa: F811
) -> None:
    """``serve`` runs until stopped: a real server is started (``--demo``, zh catalog; and with
    ``KPIGRAPH_LANG=en``) and what it says on start-up is read."""
    from tests.serve_process import serving

    if lang == "en":
        monkeypatch.setenv("KPIGRAPH_LANG", "en")
    else:
        monkeypatch.delenv("KPIGRAPH_LANG", raising=False)
    log = tmp_path / "serve.log"
    with serving(["--demo"], tmp_path / "k.sqlite", log):
        pass
    text = log.read_text(encoding="utf-8").replace(str(tmp_path), " ")
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    assert len(lines) >= 3, text
    data = demo_data | {"KPIGRAPH_BASE_URL", "KPIGRAPH_TRUSTED_HOSTS"}
    left = [re.sub(r"https?://\S+|[\w.-]*sqlite|\b\d[\d.:,]*", " ", x) for x in lines]
    left = _left(left, data)
    if lang == "en":
        assert cjk_left(left) == [], text
    else:
        assert english_left(left) == [], text
        assert "serving on" not in text


#: the commands that talk to a server, run against a real one (``serve --demo``); their
#: steps name the change request the first step makes (#1 in zh, #2 in en)
SERVER_RUNS: dict[str, tuple[Step, ...]] = {
    "propose": (("propose", "{tmp}/atp.yaml", "-m", "措辞", "--token", "{zhang}"),),
    "changes list": (("changes", "list"),),
    "changes show": (("changes", "show", "{cid}"),),
    "changes approve": (("changes", "approve", "{cid}", "--token", "{qian}"),),
    "changes reject": (("changes", "reject", "{cid}", "-m", "不同意", "--token", "{li}"),),
    "changes withdraw": (("changes", "withdraw", "999", "--token", "{zhang}"),),  # an error
    "changes apply": (("changes", "apply", "{cid}", "--token", "{root}"),),  # not approved: error
}


def test_every_server_command_is_run_against_a_server() -> None:
    said = {k for k, v in RUNS.items() if isinstance(v, str) and "running server" in v}
    assert said == SERVER_RUNS.keys()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    from tests.serve_process import people_tokens, serving

    where = tmp_path_factory.mktemp("server")
    db = where / "k.sqlite"
    tokens = people_tokens(db)
    with serving(["--demo"], db, where / "serve.log") as base:
        yield base, tokens


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_server_commands_speak_one_language(
    lang: str,
    server: tuple[str, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demo_data: set[str],  # noqa: F811
) -> None:
    base, tokens = server
    monkeypatch.setenv("KPIGRAPH_SERVER", base)
    atp = (DEMO / "metrics" / "revenue" / "atp.yaml").read_text(encoding="utf-8")
    (tmp_path / "atp.yaml").write_text(
        atp.replace("反映门店的单次服务价值", f"反映门店单次服务的价值（{lang}）"), encoding="utf-8"
    )
    place = {"tmp": str(tmp_path), "demo": str(DEMO), "db": str(tmp_path / "none.sqlite")}
    place |= {name: token for name, token in tokens.items()}
    place["cid"] = "1" if lang == "zh" else "2"
    i18n.MISSES.clear()
    lines: list[str] = []
    for command in SERVER_RUNS:
        lines += _run(SERVER_RUNS[command], "en" if lang == "en" else None, place)
    assert not i18n.MISSES, sorted(i18n.MISSES)
    text = "\n".join(lines)
    assert "#" + place["cid"] in text, text
    import yaml

    proposed = yaml.safe_load((tmp_path / "atp.yaml").read_text(encoding="utf-8"))
    data = demo_data | data_strings([proposed]) | set(tokens) | {"措辞", "不同意"}
    left = _left([re.sub(r"\d{4}-\d\d-\d\dT[\d:.+]+|kpg_\S+", " ", x) for x in lines], data)
    if lang == "en":
        assert cjk_left(left) == [], "\n".join(left)
    else:
        assert english_left(left) == [], "\n".join(left)


#: names in help texts that are the same in every language: tools, formats, keys of
#: kpigraph.yaml and of the metric template, tool names an assistant sees
HELP_NAMES = {
    "dbt",
    "MetricFlow",
    "Neo4j",
    "Community",
    "Cypher",
    "cypher-shell",
    "GraphML",
    "graphml",
    "HTML",
    "MCP",
    "AI",
    "Docker",
    "Java",
    "Maven",
    "Bolt",
    "JVM",
    "git",
    "user.name",
    "HEAD",
    "sqlglot",
    "OpenAPI",
    "Markdown",
    "PR",
    "CI",
    "Webhook",
    "LMDI-I",
    "Shapley",
    "sum",
    "propose_change",
    "semantic_models",
    "metrics",
    "fields",
    "notify",
    "extra.dbt",
    "viewer",
    "editor",
    "owner",
    "committee",
    "admin",
    "store",
    "file",
    "Kind",
    "Metric",
    "Field",
    "UUID",
    "Bash",
    "rev",
    "schema",
    "jar",
    "mom",
    "qoq",
    "wow",
    "dod",
    "yoy",
    "targets",
}


def help_paths() -> list[list[str]]:
    """Every command and group of ``kpigraph`` (the root too), and ``values refresh`` (a
    subcommand that ``values`` dispatches to by hand), as typed."""
    from cli import cli

    found: list[list[str]] = [["values", "refresh"]]

    def walk(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        found.append(path)
        if isinstance(command, click.Group):
            ctx = click.Context(command, info_name=path[-1] if path else "kpigraph", parent=parent)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, [*path, name], ctx)

    walk(cli, [], None)
    return found


def _help_names() -> set[str]:
    """Command names, option names, choices and metavars: what is typed, not read."""
    from cli import cli

    names = set(HELP_NAMES)
    for path in help_paths():
        names.update(path)
        ctx = click.Context(cli, info_name="kpigraph")
        command: click.Command | None = cli
        for word in path:
            assert isinstance(command, click.Group) or word == "refresh"
            if word == "refresh":
                from cli.values_refresh import refresh_cmd

                command = refresh_cmd
                continue
            command = command.get_command(ctx, word)  # type: ignore[union-attr]
            assert command is not None
            ctx = click.Context(command, info_name=word, parent=ctx)
        assert command is not None
        for param in command.params:
            names.update(param.opts + param.secondary_opts)
            if isinstance(param.type, click.Choice):
                names.update(str(c) for c in param.type.choices)
    return names


#: ``--option``, ``-x``, ``[a|b|c]`` (choices) and ``~/.local/…`` paths are typed, not read
TYPED = re.compile(
    r"::\w+ .*?::|https?://\S+|(?<![\w-])--?[a-z][\w-]*|\[[\w|-]+\]|\b[\w-]+(?:\|[\w-]+)+\b|~?/[\w./-]+"
    r"|\b[\w-]+\.(?:yaml|yml|xlsx|json|sqlite)\b|[\w-]*(?:YYYY|\d{4})[\w-]*"
)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_help_speaks_one_language(
    lang: str,
    demo_data: set[str],  # noqa: F811
) -> None:
    """``--help`` of every command and group (#24): click's own words, each command's help and
    each option's help are in the catalogue of the language asked for (``--lang`` on the
    command line; zh, the default, without it), and nothing of the other language is left
    once names (commands, options, choices, tools) and the demo's data are taken out."""
    from cli import cli

    i18n.MISSES.clear()
    names = _help_names()
    paths = help_paths()
    assert len(paths) > 45
    lines: list[str] = []
    for path in paths:
        argv = ([] if lang == "zh" else ["--lang", "en"]) + [*path, "--help"]
        # wide: a line is not wrapped in the middle of a name
        result = CliRunner().invoke(
            cli, argv, prog_name="kpigraph", terminal_width=3000, max_content_width=3000
        )
        assert result.exit_code == 0, (argv, result.output)
        text = result.output
        assert ("用法" in text) == (lang == "zh") and ("Usage:" in text) == (lang == "en"), text
        lines += [TYPED.sub(" ", x).strip() for x in text.splitlines() if x.strip()]
    assert not i18n.MISSES, sorted(i18n.MISSES)
    left = _left(lines, demo_data | names)
    if lang == "en":
        assert cjk_left(left) == [], "\n".join(["Chinese in --lang en --help:", *cjk_left(left)])
    else:
        english = english_left(left)
        assert english == [], "\n".join(["English in zh --help:", *english])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_usage_errors_speak_one_language(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """click's own error words (no such option, a bad choice, a missing argument) in the
    language asked for, ``KPIGRAPH_LANG`` as well as ``--lang``."""
    from cli import cli

    monkeypatch.setenv("KPIGRAPH_LANG", lang)
    i18n.MISSES.clear()
    said = []
    for argv in (["show", "--bogus"], ["lint", "x", "--format", "nope"], ["show"], ["nosuch"]):
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 2, result.output
        said.append(result.output)
    assert not i18n.MISSES, sorted(i18n.MISSES)
    text = "\n".join(said)
    if lang == "zh":
        assert "错误" in text and "用法" in text and "Error" not in text and "Usage" not in text
        assert "没有这个选项" in text and "缺少参数" in text, text
    else:
        assert "Error: No such option: --bogus" in text and cjk_left([text]) == [], text
