"""Defects found by the independent review probe (H-review), each pinned by a test that failed
before its fix: a YAML alias bomb / very deep nesting in a metric's free-form ``extra``, user
text in Slack messages read as links and mentions, and the session cookie without ``Secure``
behind a TLS-terminating proxy. Backend-independent (model, message and route layers), so they
run on the embedded store only."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from governance.notify import payload, render
from graph_schema.errors import CatalogError
from graph_schema.governance import Action, ChangeRequest, ChangeStatus
from graph_schema.graph import CatalogGraph
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from tests.governance_helpers import make_people
from tests.helpers import DEMO

HOSTILE = "<https://evil.example|点此审批 approve here> <!channel> \u202eevil\x1b[2J & done"


def alias_bomb(levels: int) -> str:
    """A metric whose ``extra`` is 9**levels strings written in ``levels + 4`` lines."""
    lines = [
        "id: bomb_metric",
        "name: 炸弹",
        "extra:",
        "  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    ]
    for i in range(1, levels + 1):
        lines.append(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_in_extra_is_a_catalog_error_naming_the_file(
    tmp_path: Path, english: None
) -> None:
    # before: validate passed and 'kpigraph load' ran for minutes serialising 9**9 strings
    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    (cat / "metrics" / "bomb.yaml").write_text(alias_bomb(9), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(cat)
    text = str(err.value)
    assert "metrics/bomb.yaml:3" in text and "extra" in text and "100000 values" in text


def test_small_aliases_in_extra_still_load(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    (cat / "metrics" / "bomb.yaml").write_text(alias_bomb(2), encoding="utf-8")  # 81 values
    graph = load_catalog(cat)
    metric = next(n for n in graph.nodes if n.id == "bomb_metric")
    assert len(metric.extra["a2"]) == 9  # type: ignore[attr-defined]


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store = EmbeddedStore(tmp_path / "g.sqlite")
    store.load(load_catalog(DEMO))
    _users, tokens = make_people(ledger_for(store))
    settings = Settings(backend=store.backend, notify=False, base_url="https://kpi.example.com")
    with TestClient(create_app(settings, store=store), base_url="http://testserver") as client:
        yield client, tokens
    store.close()


def test_deeply_nested_extra_in_a_change_request_is_422_not_500(gov: Any) -> None:
    # before: 500 internal_error (pydantic: "Circular reference detected (depth exceeded)")
    client, tokens = gov
    metric = client.get("/api/metrics/atp").json()["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("kind", "ref")}
    deep: Any = "x"
    for _ in range(900):
        deep = [deep]
    definition["extra"] = {"a": deep}
    body = {"action": "update", "ref": "Metric:atp", "definition": definition, "reason": "r"}
    r = client.post(
        "/api/changes", json=body, headers={"Authorization": f"Bearer {tokens['zhang']}"}
    )
    assert r.status_code == 422, r.text
    assert "extra" in r.json()["error"]["message"]


def test_session_cookie_is_secure_when_the_base_url_is_https(gov: Any) -> None:
    # before: Secure only when the request itself was https, so never behind a TLS proxy
    client, tokens = gov
    page = client.get("/signin")
    pre = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert pre is not None
    r = client.post(
        "/signin",
        data={"token": tokens["zhang"], "csrf": pre.group(1), "next": "/changes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("kpigraph_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict"} <= flags


def change(reason: str) -> ChangeRequest:
    return ChangeRequest.model_validate(
        {
            "id": 7,
            "action": Action.UPDATE,
            "ref": "Metric:atp",
            "definition": {"id": "atp", "name": "客单价"},
            "reason": reason,
            "requester": "zhang",
            "status": ChangeStatus.SUBMITTED,
            "created_at": "2026-11-22T08:00:00+00:00",
            "updated_at": "2026-11-22T08:00:00+00:00",
        }
    )


def test_slack_message_does_not_turn_user_text_into_links_or_mentions() -> None:
    # before: '\<https://evil.example|...\>' — Slack ignores backslashes: a live phishing link
    body = payload(change(HOSTILE), "submit", "zhang", HOSTILE, "https://kpi.example.com")
    text = render("slack", body)["text"]
    user_lines = [line for line in text.splitlines() if "evil.example" in line]
    assert len(user_lines) == 2  # reason and comment
    for line in user_lines:
        assert "<" not in line and ">" not in line
        assert "&lt;https://evil.example|" in line and "&lt;!channel&gt;" in line
    assert "\u202e" not in text and "\x1b" not in text


@pytest.mark.parametrize("fmt", ["wecom", "dingtalk", "feishu", "slack"])
def test_markdown_bodies_carry_no_control_characters(fmt: str) -> None:
    # the generic JSON body keeps the text as written (JSON-escaped); chat Markdown does not
    body = payload(change(HOSTILE), "submit", "zhang", HOSTILE, "https://kpi.example.com")
    rendered = str(render(fmt, body))
    assert "\u202e" not in rendered and "\x1b" not in rendered and "\ufffd" in rendered


def test_one_admin_cannot_give_both_the_owner_and_the_committee_approval(gov: Any) -> None:
    # before: root approved the ops owner stage, then the committee stage: 'approved' by one
    client, tokens = gov
    metric = client.get("/api/metrics/atp").json()["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("kind", "ref")}
    definition["definition"] = "单个客户单次进厂消费的平均金额（含税）。"
    body = {"action": "update", "ref": "Metric:atp", "definition": definition, "reason": "口径"}
    headers = {name: {"Authorization": f"Bearer {tok}"} for name, tok in tokens.items()}
    r = client.post("/api/changes", json=body, headers=headers["zhang"])
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert client.post(f"/api/changes/{cid}/approve", json={}, headers=headers["qian"]).is_success
    assert client.post(f"/api/changes/{cid}/approve", json={}, headers=headers["root"]).is_success
    again = client.post(f"/api/changes/{cid}/approve", json={}, headers=headers["root"])
    assert again.status_code == 403, again.text
    assert "前一阶段" in again.json()["error"]["message"]  # the catalog speaks zh
    final = client.post(f"/api/changes/{cid}/approve", json={}, headers=headers["wang"])
    assert final.json()["status"] == "approved"
    assert [a["by"] for a in final.json()["approvals"]] == ["qian", "root", "wang"]


def test_ask_answers_show_control_characters_escaped(tmp_path: Path) -> None:
    # before: /api/ask (read with curl in a terminal) printed ESC sequences and U+202E raw
    graph = load_catalog(DEMO)
    evil = "\x1b]0;pwned\x07\x1b[2J\u202e"
    nodes = tuple(
        n.model_copy(update={"definition": f"平均金额{evil}"}) if n.id == "atp" else n
        for n in graph.nodes
    )
    store = EmbeddedStore(tmp_path / "ask.sqlite")
    store.load(CatalogGraph(graph.name, nodes, graph.edges, graph.meta))
    with TestClient(create_app(Settings(notify=False), store=store)) as client:
        r = client.get("/api/ask", params={"q": "客单价"})
    store.close()
    assert r.status_code == 200 and "平均金额" in r.text
    assert not any(c in r.text for c in "\x1b\x07\u202e")
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\u202e" in r.text


def test_request_bodies_over_the_cap_are_413_and_nothing_is_stored(gov: Any) -> None:
    # before: a 30 MB 'extra' in POST /api/changes was 201 and stored in the ledger
    from api.body_limit import MAX_BODY_BYTES

    client, tokens = gov
    headers = {"Authorization": f"Bearer {tokens['zhang']}", "Content-Type": "application/json"}
    metric = client.get("/api/metrics/atp").json()["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("kind", "ref")}
    definition["extra"] = {"x": "y" * (MAX_BODY_BYTES + 10)}
    body = json.dumps(
        {"action": "update", "ref": "Metric:atp", "definition": definition, "reason": "r"}
    )
    r = client.post("/api/changes", content=body, headers=headers)
    assert r.status_code == 413 and set(r.json()) == {"error"}, r.text[:300]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        data = body.encode()
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    r = client.post("/api/changes", content=chunks(), headers=headers)
    assert r.status_code == 413 and set(r.json()) == {"error"}, r.text[:300]
    assert client.get("/api/changes").json()["total"] == 0
    small = client.post(
        "/api/metrics/atp/comments", json={"body": "口径里含税吗？"}, headers=headers
    )
    assert small.status_code == 201


def test_a_dbt_manifest_nested_too_deeply_is_a_clear_import_error(tmp_path: Path) -> None:
    # before: 'internal error: RecursionError' (exit 2) from 'kpigraph import dbt'
    from loaders.dbt import DbtImportError, import_dbt

    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"semantic_models": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(DbtImportError) as err:
        import_dbt(manifest, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    text = str(err.value)  # in the language in use (zh unless chosen)
    assert ("nested too deeply" in text or "嵌套过深" in text) and "manifest.json" in text


@pytest.mark.parametrize(
    ("extra", "line"),
    [(f"  a: {'[' * 50_000}{']' * 50_000}\n", 4), (f"  a:\n    {'- ' * 30_000}x\n", 5)],
)
def test_yaml_nested_50000_deep_is_a_catalog_error_not_a_crash(
    tmp_path: Path, extra: str, line: int
) -> None:
    # before: libyaml's composer recursed in C and the process died with SIGSEGV (exit 139),
    # so this ran in a child process
    import subprocess
    import sys

    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    (cat / "metrics" / "deep.yaml").write_text(f"id: deep_m\nname: 深\nextra:\n{extra}")
    code = "import sys; from loaders.catalog import load_catalog; load_catalog(sys.argv[1])"
    done = subprocess.run(
        [sys.executable, "-c", code, str(cat)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, (done.returncode, done.stderr[-500:])
    assert "CatalogError" in done.stderr and f"metrics/deep.yaml:{line}" in done.stderr
    assert (
        "嵌套超过 1000 层" in done.stderr
    )  # the catalog speaks zh (nested deeper than 1000 levels)
