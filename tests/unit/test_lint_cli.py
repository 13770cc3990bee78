"""``kpigraph lint``, ``validate`` with lint, and ``infer-fields`` (minimal YAML edits)."""

# ruff: noqa: E501  (catalog YAML fixtures read best on one line)

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import cli
from tests.unit.test_lint_rules import SOURCES, catalog


def invoke(*args: str) -> Result:
    """The command in English (the test catalogs speak zh; the words checked are English)."""
    return CliRunner().invoke(cli, ["--lang", "en", *args], catch_exceptions=False)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


BROKEN = """\
- {id: lonely, name: 孤儿}
- {id: bad_table, name: 坏表, sql: SELECT SUM(x) FROM ods_orders, rolls_up_to: revenue}
"""


def test_help_of_lint_commands() -> None:
    for name in ("lint", "infer-fields"):
        result = invoke(name, "--help")
        # in the CLI's default language (zh) unless --lang / KPIGRAPH_LANG chose one
        assert result.exit_code == 0 and ("Usage:" in result.output or "用法：" in result.output)
    assert "infer-fields" in invoke("--help").output


def test_lint_text_json_github(tmp_path: Path) -> None:
    root = catalog(tmp_path, BROKEN)
    text = invoke("lint", str(root))
    assert text.exit_code == 1
    assert f"{root}/metrics/all.yaml:" in text.output and "sql.unknown-table" in text.output
    assert "lint: 1 errors" in text.output and "fix:" in text.output
    data = json.loads(invoke("lint", str(root), "--format", "json").output)
    assert data["counts"]["error"] == 1
    assert {i["rule"] for i in data["issues"]} >= {"sql.unknown-table", "orphans.metric"}
    github = invoke("lint", str(root), "--format", "github", "--min-severity", "warning")
    lines = github.output.splitlines()
    assert lines and all(line.startswith(("::error ", "::warning ")) for line in lines)
    assert any(
        line.startswith(f"::error file={root}/metrics/all.yaml,line=")
        and "title=sql.unknown-table::" in line
        for line in lines
    )


def test_lint_exit_codes(tmp_path: Path) -> None:
    root = catalog(tmp_path, "- {id: lonely, name: 孤儿, level: L2}\n")  # warning + info only
    assert invoke("lint", str(root)).exit_code == 0
    assert invoke("lint", str(root), "--strict").exit_code == 1


def test_validate_fails_on_lint_errors_and_shows_warnings(tmp_path: Path) -> None:
    root = catalog(tmp_path, BROKEN + "- {id: w, name: 警告, level: L2, rolls_up_to: revenue}\n")
    result = invoke("validate", str(root))
    assert result.exit_code == 1
    assert "sql.unknown-table" in result.output and "card.incomplete" in result.output
    assert "orphans.metric" not in result.output  # info is counted, not listed
    assert "lint found errors" in result.output
    assert invoke("validate", str(root), "--no-lint").exit_code == 0
    data = json.loads(invoke("validate", str(root), "--json").output)
    assert data["valid"] is False and data["lint"]["counts"]["error"] == 1


def test_validate_a_clean_catalog(tmp_path: Path) -> None:
    result = invoke("validate", str(catalog(tmp_path)))
    assert result.exit_code == 0 and "is valid" in result.output


# -- infer-fields ----------------------------------------------------------------------------

HAND_WRITTEN = """\
# 手写文件：注释、引号与顺序都要保留
metrics:
  - id: block_list
    name: "块列表"   # a comment on the name
    fields:
      - dms.dms_orders.total_amount
      - dms.dms_orders.store_id     # not read: will go

    sql: |
      SELECT SUM(total_amount)
      FROM dms_orders
      WHERE order_status = 'completed'
    rolls_up_to: revenue
  - id: flow_list
    name: 流列表
    fields: [dms.dms_orders.order_id]
    sql: SELECT COUNT(DISTINCT o.order_id) FROM dms_orders AS o JOIN v_done AS v ON v.order_id = o.order_id
    rolls_up_to: revenue
  - id: no_fields
    name: 无字段
    sql: SELECT SUM(amount) FROM v_done
    rolls_up_to: revenue
  - id: right_already
    name: 已正确
    fields: [dms.dms_orders.total_amount]
    sql: SELECT SUM(total_amount) FROM dms_orders
    rolls_up_to: revenue
"""


def _hand_written(tmp_path: Path) -> Path:
    root = catalog(tmp_path)
    (root / "metrics/hand.yaml").write_text(HAND_WRITTEN, encoding="utf-8")
    return root


def test_infer_fields_edits_only_the_fields_lists(tmp_path: Path) -> None:
    root = _hand_written(tmp_path)
    before = snapshot(root)
    dry = invoke("infer-fields", str(root), "--dry-run")
    assert dry.exit_code == 0 and "would change 3 metrics" in dry.output
    assert snapshot(root) == before
    result = invoke("infer-fields", str(root))
    assert result.exit_code == 0, result.output
    assert "changed 3 metrics in 1 file;" in result.output
    after = snapshot(root)
    assert {k for k in after if after[k] != before[k]} == {"metrics/hand.yaml"}
    text = (root / "metrics/hand.yaml").read_text(encoding="utf-8")
    expected = (
        HAND_WRITTEN.replace(
            "      - dms.dms_orders.total_amount\n      - dms.dms_orders.store_id     # not read: will go\n",
            "      - dms.dms_orders.total_amount\n      - dms.dms_orders.order_status\n",
        )
        .replace(
            "fields: [dms.dms_orders.order_id]",
            "fields: [dms.dms_orders.order_id, dms.dms_orders.order_status]",
        )
        .replace(
            "    name: 无字段\n    sql:",
            "    name: 无字段\n    fields: [dms.dms_orders.order_status, dms.dms_orders.total_amount]\n    sql:",
        )
    )
    assert text == expected
    # the result is lint-clean on SQL vs fields, and a second run changes nothing
    report = json.loads(invoke("lint", str(root), "--format", "json").output)
    assert not [i for i in report["issues"] if i["rule"].startswith("sql.")]
    again = invoke("infer-fields", str(root))
    assert "changed 0 metrics" in again.output
    assert snapshot(root)["metrics/hand.yaml"] == after["metrics/hand.yaml"]


def test_infer_fields_only_named_metrics(tmp_path: Path) -> None:
    root = _hand_written(tmp_path)
    result = invoke("infer-fields", str(root), "--metric", "flow_list")
    assert "changed 1 metric in 1 file;" in result.output
    text = (root / "metrics/hand.yaml").read_text(encoding="utf-8")
    assert "store_id     # not read: will go" in text
    assert invoke("infer-fields", str(root), "--metric", "nope").exit_code != 0


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT SUM(total_amount FROM dms_orders", "SQL does not parse"),
        ("SELECT SUM(x) FROM ods_orders", "table 'ods_orders' is not in sources"),
        ("SELECT SUM(bogus) FROM dms_orders", "column 'dms.dms_orders.bogus' is not in sources"),
    ],
)
def test_infer_fields_writes_nothing_when_any_sql_is_unusable(
    tmp_path: Path, sql: str, expected: str
) -> None:
    root = _hand_written(tmp_path)
    (root / "metrics/zz_bad.yaml").write_text(
        f"id: zz_bad\nname: 坏\nsql: {sql}\nrolls_up_to: revenue\n", encoding="utf-8"
    )
    before = snapshot(root)
    result = invoke("infer-fields", str(root))
    assert result.exit_code != 0
    assert "metrics/zz_bad.yaml:1: metric 'zz_bad'" in result.output
    assert expected in result.output and "nothing was written" in result.output
    assert snapshot(root) == before


def test_infer_fields_refuses_a_flow_mapping_it_cannot_edit(tmp_path: Path) -> None:
    root = catalog(
        tmp_path,
        "- {id: inline, name: 行内, sql: SELECT SUM(total_amount) FROM dms_orders, rolls_up_to: revenue}\n",
    )
    before = snapshot(root)
    result = invoke("infer-fields", str(root))
    assert (
        result.exit_code != 0
        and "by hand" in result.output
        and "nothing was written" in result.output
    )
    assert snapshot(root) == before


def test_sources_fixture_has_a_view() -> None:
    assert "views:" in SOURCES


def test_load_is_stopped_by_lint_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "gate.sqlite")
    clean = catalog(tmp_path / "clean")
    assert invoke("load", str(clean), "--db", db, "--backend", "embedded").exit_code == 0
    before = invoke("info", "--json", "--db", db, "--backend", "embedded").output
    bad = catalog(tmp_path / "bad", BROKEN)
    result = CliRunner().invoke(
        cli, ["--lang", "en", "load", str(bad), "--db", db, "--backend", "embedded"]
    )
    assert result.exit_code != 0
    assert "sql.unknown-table" in result.output and "nothing was loaded" in result.output
    assert invoke("info", "--json", "--db", db, "--backend", "embedded").output == before
    forced = invoke("load", str(bad), "--no-lint", "--db", db, "--backend", "embedded")
    assert forced.exit_code == 0
    assert invoke("info", "--json", "--db", db, "--backend", "embedded").output != before


def test_serve_catalog_is_stopped_by_lint_errors(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    bad = catalog(tmp_path / "bad", BROKEN)
    args = ["serve", "--catalog", str(bad), "--port", port, "--db", str(tmp_path / "s.sqlite")]
    result = CliRunner().invoke(cli, ["--lang", "en", *args, "--backend", "embedded"])
    assert result.exit_code != 0 and "nothing was loaded" in result.output


def test_infer_fields_keeps_comments_and_line_endings(tmp_path: Path) -> None:
    root = catalog(tmp_path)
    text = (
        "# 注释保留\r\n"
        "id: kept\r\n"
        "name: 保留注释\r\n"
        "fields:\r\n"
        "  # 金额字段\r\n"
        "  - dms.dms_orders.total_amount  # 工单总金额\r\n"
        "  - dms.dms_orders.store_id\r\n"
        "# 下面是取数 SQL\r\n"
        "sql: SELECT SUM(total_amount) FROM dms_orders WHERE order_status = 'completed'\r\n"
        "rolls_up_to: revenue\r\n"
    )
    (root / "metrics/kept.yaml").write_bytes(text.encode("utf-8"))
    assert invoke("infer-fields", str(root), "--metric", "kept").exit_code == 0
    after = (root / "metrics/kept.yaml").read_bytes().decode("utf-8")
    assert after == text.replace(
        "  - dms.dms_orders.store_id\r\n", "  - dms.dms_orders.order_status\r\n"
    )


def test_serve_catalog_speaks_the_catalogs_language_into_an_empty_store(tmp_path: Path) -> None:
    """An English catalog served into an empty store: its load speaks English, as 'kpigraph
    load' does (it spoke the empty store's zh; found following the README)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    bad = catalog(tmp_path / "bad", BROKEN, manifest="language: en\n")
    args = ["serve", "--catalog", str(bad), "--port", port, "--db", str(tmp_path / "s.sqlite")]
    result = CliRunner().invoke(cli, [*args, "--backend", "embedded"])
    assert result.exit_code != 0 and "nothing was loaded" in result.output, result.output
