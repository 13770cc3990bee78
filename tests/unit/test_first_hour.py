"""What a new user trips on in the first hour (issue: names, directed paths, the demo that
must not replace a loaded graph, a busy port, a fast --help, names on the card)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import DEMO, ROOT, write_catalog
from tests.unit.test_cli import run


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.sqlite"
    run("load", str(DEMO), db=path)
    return path


@pytest.mark.parametrize("typed", ["客单价", "ATP", "atp", "Average Ticket Price", "Metric:atp"])
def test_show_takes_names_people_know(db: Path, typed: str) -> None:
    card = json.loads(run("show", typed, "--json", db=db).stdout)
    assert card["ref"] == "Metric:atp"


def test_path_takes_names(db: Path) -> None:
    data = json.loads(run("path", "客户满意度", "净利润", "--json", db=db).stdout)
    assert data["source"] == "Metric:customer_satisfaction"
    assert data["target"] == "Metric:net_profit"


def test_ambiguous_name_lists_candidates(tmp_path: Path) -> None:
    cat = write_catalog(
        tmp_path / "cat",
        {
            "metrics/atp2.yaml": "id: atp_store\nname: 客单价\nlevel: L2\nowner: ops\n",
            # two metrics named 客单价 are a conflict.name lint error, which stops a load
            "kpigraph.yaml": "name: test catalog\nlint: {severity: {conflict.name: warning}}\n",
        },
    )
    path = tmp_path / "amb.sqlite"
    run("load", str(cat), db=path)
    proc = run("show", "客单价", db=path, check=False)
    assert proc.returncode == 1
    assert "Metric:atp" in proc.stderr and "Metric:atp_store" in proc.stderr


def test_unknown_field_suggests_the_full_ref(db: Path) -> None:
    proc = run("impact", "dms_orders.total_amount", db=db, check=False)
    assert proc.returncode == 2  # a usage error: what was typed is not in the catalog
    assert "Field:dms.dms_orders.total_amount" in proc.stderr
    assert "kpigraph search" in proc.stderr


def test_default_path_is_a_directed_chain(db: Path) -> None:
    data = json.loads(run("path", "customer_satisfaction", "net_profit", "--json", db=db).stdout)
    assert data["mode"] == "directed"
    ids = [[n["id"] for n in p["nodes"]] for p in data["paths"]]
    assert ids[0][:4] == ["customer_satisfaction", "retention_rate", "repurchase_rate", "revenue"]
    assert ids[0][-1] == "net_profit"
    for path in data["paths"]:
        for edge in path["edges"]:
            assert edge["forward"] is True
        pos = {n["ref"]: i for i, n in enumerate(path["nodes"])}
        for edge in path["edges"]:
            assert pos[edge["source"]] + 1 == pos[edge["target"]]


def test_reversed_and_any_direction_paths_say_so(db: Path) -> None:
    back = json.loads(run("path", "net_profit", "customer_satisfaction", "--json", db=db).stdout)
    assert back["mode"] == "reversed" and back["paths"]
    anyway = json.loads(
        run("path", "revenue", "net_profit_margin", "--any-direction", "--json", db=db).stdout
    )
    assert anyway["mode"] == "any-direction"
    text = run("path", "customer_satisfaction", "net_profit", db=db).stdout  # in zh, as the demo
    assert "有向链路" in text and "CAUSES(+, 滞后 3个月)" in text
    text = run("--lang", "en", "path", "customer_satisfaction", "net_profit", db=db).stdout
    assert "directed chains" in text and "CAUSES(+, lag 3个月)" in text  # the lag as written


def test_lineage_and_impact_tables_say_why(db: Path) -> None:
    text = run("lineage", "revenue", "--direction", "downstream", "--depth", "1", db=db).stdout
    assert "经由" in text and "INPUT_TO" in text  # the demo catalog speaks Chinese
    text = run("impact", "atp", db=db).stdout
    assert "需重新计算" in text and "解读受影响" in text and "从根节点出发的路径" in text
    en = ("--lang", "en")
    text = run(*en, "lineage", "revenue", "--direction", "downstream", "--depth", "1", db=db).stdout
    assert "reached by" in text and "INPUT_TO" in text
    text = run(*en, "impact", "atp", db=db).stdout
    assert "recomputed" in text and "influenced" in text and "route from the root" in text


def test_show_prints_names_not_ids(db: Path) -> None:
    text = run("show", "atp", db=db).stdout
    assert "营收 / 进厂台次" in text
    assert "运营部（ops）" in text and "财务部（finance）" in text


def test_demo_does_not_replace_the_loaded_graph(tmp_path: Path) -> None:
    db = tmp_path / "mine.sqlite"
    run("load", str(write_catalog(tmp_path / "mine")), db=db)
    port = _free_port()
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_BACKEND": "embedded"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(port, proc)
        info = json.loads(run("info", "--json", db=db).stdout)
        assert info["catalog"] == "test catalog"
        assert (tmp_path / "kpigraph-demo.sqlite").exists()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_load_says_which_catalog_it_replaces(db: Path, tmp_path: Path) -> None:
    proc = run("load", str(write_catalog(tmp_path / "other")), db=db)
    assert "替换已载入的目录" in proc.stderr and "replacing" not in proc.stderr, proc.stderr


def test_another_catalog_refused_by_versions_says_what_to_do(tmp_path: Path) -> None:
    """A store holding one catalog, then another whose metric of the same id changed: the
    version rules refuse it (they compare with the held catalog's metric), and the error says
    so — load it elsewhere, or replace with --no-version-check — instead of only "bump"."""
    db = tmp_path / "two.sqlite"
    atp = "id: atp\nname: 客单价\nlevel: L1\nowner: ops\nreviewer: finance\nversion: 1.0.0\n"
    first = write_catalog(
        tmp_path / "first", {"metrics/atp.yaml": atp + "formula: revenue / visits\n"}
    )
    run("load", str(first), db=db)
    other = write_catalog(
        tmp_path / "other",
        {
            "kpigraph.yaml": "name: another catalog\n",
            "metrics/atp.yaml": atp + "formula: revenue / visits * 100\n",
        },
    )
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "load", str(other), "--db", str(db)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "存储中是另一个目录 'test catalog'" in proc.stderr, proc.stderr
    assert "--no-version-check" in proc.stderr and "(and" not in proc.stderr
    run("load", str(other), "--no-version-check", db=db)
    assert json.loads(run("info", "--json", db=db).stdout)["catalog"] == "another catalog"


@pytest.mark.usefixtures("english")  # the English messages
def test_busy_port_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = run("serve", "--demo", "--port", str(port), db=tmp_path / "x.sqlite", check=False)
    assert proc.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr
    assert "--port" in proc.stderr and "serving on" not in proc.stderr + proc.stdout


def test_help_imports_no_command() -> None:
    """``--help`` stays fast because it imports no command module (and so no analysis,
    store, networkx, numpy or pydantic); the timing itself is in BENCHMARKS.md."""
    code = (
        "import sys; from cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('networkx', 'numpy', 'pydantic', 'rich', 'store', 'analysis',"
        " 'cli.query', 'cli.catalog') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert "HEAVY []" in out
    assert "lineage" in out and "serve" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[str]) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.communicate()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code < 600:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("server did not answer within 60 s")


# -- one mistake, one error, with the right hint -------------------------------------------


def _issues(root: Path) -> list[str]:
    from graph_schema.errors import CatalogError
    from loaders.catalog import load_catalog

    with pytest.raises(CatalogError) as caught:
        load_catalog(root)
    return [str(i) for i in caught.value.issues]


@pytest.mark.usefixtures("english")  # the English messages (the catalog is zh)
def test_a_key_typo_is_one_error_not_a_cascade(tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path / "c",
        {
            "metrics/revenue.yaml": (
                "id: revenue\nname: 营收\nlevel: L0\nowner: finance\ndefintion: 收入\n"
            ),
            "metrics/funnel.yaml": (
                "id: leads\nname: 线索\ncauses: [{metric: revenue, polarity: '+'}]\n"
            ),
        },
    )
    issues = _issues(root)
    assert len(issues) == 1, issues
    assert "unknown key 'defintion'" in issues[0]


@pytest.mark.usefixtures("english")  # the English messages (the catalog is zh)
def test_a_tab_breaks_one_file_and_not_the_references_to_it(tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path / "c",
        {"metrics/visits.yaml": "id: visits\nname: 进厂台次\n\tlevel: L1\n"},
    )
    issues = _issues(root)
    assert len(issues) == 1, issues
    assert issues[0].startswith("metrics/visits.yaml:") and "broken YAML" in issues[0]


@pytest.mark.usefixtures("english")  # the English messages (the catalog is zh)
def test_root_cause_is_listed_first(tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path / "c",
        {
            "metrics/a_first.yaml": "id: a_first\nname: A\nformula: nosuch / visits\n",
            "metrics/z_broken.yaml": "id: z_broken\nname: Z\nbad_key: 1\n",
        },
    )
    issues = _issues(root)
    assert "unknown key 'bad_key'" in issues[0]
    assert "unknown metric 'nosuch'" in issues[1]


@pytest.mark.usefixtures("english")  # the English messages (the catalog is zh)
def test_a_wrongly_indented_key_gets_the_indentation_hint(tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path / "c",
        {"metrics/x.yaml": "id: x\nname: X\n  definition: 一个定义\n"},
    )
    (issue,) = _issues(root)
    assert "metrics/x.yaml:3" in issue
    assert "indented 2 more spaces than 'name'" in issue
    assert "quote values" not in issue


def test_a_broken_departments_file_does_not_cascade(tmp_path: Path) -> None:
    root = write_catalog(tmp_path / "c", {"departments.yaml": "- {id: ops, name: 运营部\n"})
    issues = _issues(root)
    assert len(issues) == 1 and issues[0].startswith("departments.yaml"), issues


@pytest.mark.parametrize(
    ("char", "hint"),
    [("／", "use '/'"), ("＋", "use ASCII +"), ("－", "use ASCII -"), ("＊", "use '*'")],
)
@pytest.mark.usefixtures("english")  # the English messages (the catalog is zh)
def test_full_width_operators_get_a_hint(tmp_path: Path, char: str, hint: str) -> None:
    root = write_catalog(
        tmp_path / "c",
        {"metrics/atp.yaml": f"id: atp\nname: 客单价\nformula: revenue {char} visits\n"},
    )
    (issue,) = _issues(root)
    assert hint in issue


@pytest.mark.parametrize(
    "catalog",
    sorted(p.name for p in (ROOT / "catalogs").iterdir() if (p / "kpigraph.yaml").is_file()),
)
def test_catalog_text_has_no_provenance_notes(catalog: str) -> None:
    """Evidence, meanings and caveats are written for users, not as notes on where the
    demo came from ("seed 001 …"); YAML comments may say that."""
    from loaders.catalog import load_catalog

    graph = load_catalog(ROOT / "catalogs" / catalog)
    for node in graph.nodes:
        assert "seed 0" not in json.dumps(node.props(), ensure_ascii=False), node.ref
    for edge in graph.edges:
        assert "seed 0" not in json.dumps(edge.props, ensure_ascii=False), edge


def test_render_tree_mode_writes_the_metric_tree(db: Path, tmp_path: Path) -> None:
    import re

    out = tmp_path / "tree.html"
    run("render", "客单价", "--mode", "tree", "-o", str(out), db=db)
    data = json.loads(
        re.search(
            r'<script type="application/json" id="graph-data">(.*?)</script>',
            out.read_text(encoding="utf-8"),
            re.S,
        ).group(1)  # type: ignore[union-attr]
    )
    text = json.dumps(data, ensure_ascii=False)
    assert "Metric:revenue" in text
    assert "Table:" not in text and "Field:" not in text  # the map mode shows tables
