"""The MCP server driven by the SDK's own client, over stdio (``kpigraph mcp``) and over
streamable HTTP (``/mcp`` in a real server): every tool's answer equals the HTTP API's for the
same question; no token is refused; an editor's propose_change makes a request, a viewer has no
such tool and cannot call it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from api.app import create_app
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people, running_server
from tests.helpers import DEMO, ROOT

READ_TOOLS = {
    "search_metrics", "get_metric", "lineage", "impact", "path", "compare", "history", "eval",
    "explain", "lint_definition",
}  # fmt: skip
FIELD = "Field:dms.dms_orders.total_amount"
#: tool call -> the API request answering the same question
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("search_metrics", {"q": "客单价"}, "/api/metrics?q=客单价"),
    ("get_metric", {"ref": "客单价"}, "/api/metrics/atp"),
    ("lineage", {"ref": "ATP", "direction": "upstream", "depth": 2},
     "/api/nodes/atp/lineage?direction=upstream&depth=2&limit=200"),
    ("impact", {"ref": FIELD}, f"/api/nodes/{FIELD}/impact"),
    ("path", {"source": "visits", "target": "net_profit"}, "/api/paths?from=visits&to=net_profit"),
    ("compare", {"a": "atp", "b": "revenue"}, "/api/compare?a=atp&b=revenue"),
    ("history", {"ref": "atp"}, "/api/nodes/atp/history"),
    ("eval", {"ref": "营收", "period": "2026-06"}, "/api/metrics/revenue/eval?period=2026-06"),
    # no base: the quarter before (the one default of page, API, CLI and MCP)
    ("explain", {"ref": "revenue", "period": "2026-Q2", "by": "store,order_type"},
     "/api/metrics/revenue/explain?period=2026-Q2&by=store,order_type"),
]  # fmt: skip


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A real server over an embedded store file holding the demo and users of every role."""
    db = tmp_path / "kpi.sqlite"
    store = EmbeddedStore(db)
    store.load(load_catalog(DEMO))
    _users, tokens = make_people(fresh_ledger(store))
    app = create_app(Settings(backend="embedded", db=db, notify=False), store=store)
    with running_server(app) as base:
        yield base, db, tokens
    store.close()


def answer(result: Any) -> Any:
    """A tool's structured answer (a list comes wrapped as ``{"result": [...]}``)."""
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data is not None
    return data["result"] if set(data) == {"result"} else data


async def exercise(session: ClientSession) -> dict[str, Any]:
    """List the tools and call each read-only one; the answers by tool name."""
    await session.initialize()
    listed = await session.list_tools()
    names = {t.name for t in listed.tools}
    assert names >= READ_TOOLS
    for tool in listed.tools:  # typed schemas with descriptions an assistant can choose by
        assert tool.description and len(tool.description) > 80, tool.name
        assert tool.input_schema["type"] == "object"
    ref = next(t for t in listed.tools if t.name == "get_metric").input_schema["properties"]["ref"]
    assert "客单价" in ref["description"] and ref["maxLength"] == 200
    out: dict[str, Any] = {"names": names}
    for name, args, _path in CASES:
        out[name] = answer(await session.call_tool(name, args))
    lint = answer(
        await session.call_tool(
            "lint_definition", {"definition": {"id": "atp2", "name": "客单价", "level": "L1"}}
        )
    )
    out["lint_definition"] = lint
    bad = await session.call_tool("lineage", {"ref": "atp", "depth": 99})
    out["bad_depth"] = bad
    out["unknown"] = await session.call_tool("get_metric", {"ref": "no_such_metric"})
    card = await session.read_resource("kpigraph://metrics/atp")
    out["card_md"] = card.contents[0].text  # type: ignore[union-attr]
    overview = await session.read_resource("kpigraph://catalog")
    out["overview_md"] = overview.contents[0].text  # type: ignore[union-attr]
    prompts = await session.list_prompts()
    out["prompts"] = {p.name for p in prompts.prompts}
    got = await session.get_prompt("explain_metric", {"metric": "客单价"})
    out["prompt_text"] = got.messages[0].content.text  # type: ignore[union-attr]
    return out


def check_against_api(out: dict[str, Any], base: str) -> None:
    with httpx.Client(base_url=base) as api:
        for name, _args, path in CASES:
            expected = api.get(path).json()
            got = out[name]
            if name == "get_metric":
                assert got.pop("formula_in_names") == "客单价 = 营收 / 进厂台次"
            assert got == expected, name
    assert out["search_metrics"]["items"][0]["id"] == "atp"
    assert "definition" in {i["via"] for i in out["impact"]["metrics"]}
    assert any(i["rule"] == "conflict.name" for i in out["lint_definition"]["issues"])
    assert (
        out["bad_depth"].is_error and "less than or equal to 10" in out["bad_depth"].content[0].text
    )
    text = out["unknown"].content[0].text  # the SDK prefixes "Error executing tool ...: "
    unknown = json.loads(text[text.index("{") :])
    assert out["unknown"].is_error and unknown["error"]["code"] == "not_found"
    assert "单个客户单次进厂消费的平均金额" in out["card_md"] and "```yaml" in out["card_md"]
    assert "Metric:revenue" in out["overview_md"]
    assert out["prompts"] == {"explain_metric", "review_change"}
    assert "客单价" in out["prompt_text"] and "not instructions" in out["prompt_text"]


@asynccontextmanager
async def http_session(base: str, token: str | None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        yield session


def test_over_http_every_tool_answers_as_the_api(served: Any) -> None:
    base, _db, tokens = served

    async def main() -> dict[str, Any]:
        async with http_session(base, tokens["guest"]) as session:
            return await exercise(session)

    out = asyncio.run(main())
    assert "propose_change" not in out["names"]  # a viewer: read-only tools
    check_against_api(out, base)


def test_over_stdio_every_tool_answers_as_the_api(served: Any) -> None:
    base, db, _tokens = served
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_BACKEND": "embedded"}
    env.pop("KPIGRAPH_TOKEN", None)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "cli", "mcp"], env=env, cwd=str(ROOT)
    )

    async def main() -> dict[str, Any]:
        async with (
            stdio_client(params) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            return await exercise(session)

    out = asyncio.run(main())
    assert "propose_change" not in out["names"]  # no --token: read-only
    check_against_api(out, base)


def test_no_token_or_a_bad_one_is_refused(served: Any) -> None:
    base, _db, _tokens = served
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for headers in ({}, {"Authorization": "Bearer kpg_nope.nope"}, {"Authorization": "Basic x"}):
        r = httpx.post(f"{base}/mcp", json=hello, headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["code"] == "unauthenticated"

    async def main() -> None:
        async with http_session(base, None) as session:
            await session.initialize()

    with pytest.raises(BaseException):  # noqa: B017 - the SDK raises its own error group
        asyncio.run(main())


def test_an_editor_proposes_a_viewer_cannot(served: Any) -> None:
    base, _db, tokens = served
    metric = httpx.get(f"{base}/api/metrics/atp").json()["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
    definition["formula"] = "revenue / visits * 1"
    args = {"ref": "客单价", "definition": definition, "reason": "明确口径",
            "base_version": metric["version"]}  # fmt: skip

    async def as_user(name: str) -> tuple[set[str], Any]:
        async with http_session(base, tokens[name]) as session:
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            return names, await session.call_tool("propose_change", args)

    names, result = asyncio.run(as_user("zhang"))
    assert "propose_change" in names
    change = answer(result)
    assert change["status"] == "submitted" and change["requester"] == "zhang"
    assert change["change_class"] == "major" and change["new_version"] == "2.0.0"
    listed = httpx.get(f"{base}/api/changes/{change['id']}")
    assert listed.status_code == 200 and listed.json()["ref"] == "Metric:atp"

    names, result = asyncio.run(as_user("guest"))
    assert "propose_change" not in names
    assert result.is_error
    assert httpx.get(f"{base}/api/changes").json()["total"] == 1


def test_stdio_with_an_editors_token_can_propose(served: Any) -> None:
    base, db, tokens = served
    env = {**os.environ, "KPIGRAPH_DB": str(db), "KPIGRAPH_BACKEND": "embedded",
           "KPIGRAPH_TOKEN": tokens["zhang"]}  # fmt: skip
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "cli", "mcp"], env=env, cwd=str(ROOT)
    )
    metric = httpx.get(f"{base}/api/metrics/atp").json()["metric"]
    definition = {k: v for k, v in metric.items() if k not in ("version", "kind", "ref")}
    definition["caveats"] = [*definition.get("caveats", []), "不含代收款"]

    async def main() -> tuple[set[str], Any]:
        async with (
            stdio_client(params) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            args = {"ref": "atp", "definition": definition, "reason": "补充注意事项"}
            return names, await session.call_tool("propose_change", args)

    names, result = asyncio.run(main())
    assert "propose_change" in names
    change = answer(result)
    assert change["requester"] == "zhang" and change["change_class"] == "patch"
    assert httpx.get(f"{base}/api/changes/{change['id']}").status_code == 200
