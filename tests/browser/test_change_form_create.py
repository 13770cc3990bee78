"""The structured change form for a new metric and for a deprecation (review of issue 22), in
real headless Chromium on the Chinese demo served with ``--catalog DIR --writeback files``:
an editor creates 净客单价 from the empty form (no YAML typed: pickers for the departments,
the field and the parent metric); the change page says which file it will live in when
written back and lists the references by name in its before/after columns; approved and
applied, the file appears where the page said. Then the same metric is deprecated through the
form; applied, its file says ``status: deprecated``. Screenshots:
test-artifacts/change-form-create-*.png, change-form-deprecate-*.png."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from core.settings import Settings
from core.writeback import created_file
from loaders.yaml_lines import load_yaml
from neo4j_local.launcher import free_port
from store.embedded import EmbeddedStore
from tests.browser.test_change_form import field, sign_in, sign_out
from tests.contract.test_writeback import load_dir
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO

pytestmark = pytest.mark.browser

NEW = {
    "id": "net_atp",
    "name": "净客单价",
    "domain": "门店运营",
    "definition": "单个客户单次进厂的平均实收金额（不含保险理赔代收款）。",
    "reason": "财务要求：单独看门店实收的客单价",
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """The demo catalog copied to DIR, loaded from it, served with write-back into it."""
    catalog = tmp_path / "catalog"
    shutil.copytree(DEMO, catalog)
    store = EmbeddedStore(tmp_path / "gov.sqlite")
    load_dir(store, catalog)
    _users, tokens = make_people(fresh_ledger(store))
    settings = Settings(catalog_dir=catalog, writeback="files")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, store=store), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "test server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", catalog, tokens
    server.should_exit = True
    thread.join(timeout=10)


def pick(page: Any, path: str, search: str, choice: str) -> None:
    box = field(page, path)
    box.locator("input[type=search]").fill(search)
    box.locator(".picker li button", has_text=choice).first.click()


def approve_and_apply(page: Any, base: str, tokens: dict[str, str], cid: int) -> None:
    sign_out(page)
    for name in ("li", "qian", "wang"):  # whichever stages the request waits for
        sign_in(page, base, tokens[name])
        page.goto(f"{base}/changes/{cid}")
        if page.locator("#approve").count():
            page.click("#approve")
            page.wait_for_load_state()
            assert page.locator("#done").count() == 1
        sign_out(page)
    sign_in(page, base, tokens["root"])
    page.goto(f"{base}/changes/{cid}")
    page.click("#apply")
    page.wait_for_load_state()
    assert "已发布" in page.locator("#status").text_content()


def test_create_and_deprecate_with_the_structured_form(
    browser: Any, served: tuple[str, Path, dict[str, str]], artifacts: Path
) -> None:
    base, catalog, tokens = served
    expected_file = created_file(catalog, NEW)
    assert expected_file is not None and expected_file.endswith("/net_atp.yaml")
    context = browser.new_context(viewport={"width": 1300, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    script_errors: list[str] = []
    page.on("pageerror", lambda e: script_errors.append(str(e)))

    def shot(name: str) -> None:
        page.screenshot(path=str(artifacts / f"change-form-{name}.png"), full_page=True)

    try:
        # -- create: from the empty form ------------------------------------------------------
        sign_in(page, base, tokens["zhang"])
        page.goto(f"{base}/changes/new?action=create")
        page.wait_for_load_state("networkidle")
        assert page.input_value("#ref") == "" and page.input_value("#action") == "create"
        assert not page.locator("#definition").is_visible()  # the form, not the YAML
        page.fill("#ref", NEW["id"])
        field(page, "name").locator("input[type=text]").fill(NEW["name"])
        field(page, "domain").locator("input[type=text]").fill(NEW["domain"])
        pick(page, "owner", "财务", "财务部")
        pick(page, "reviewer", "运营", "运营部")
        field(page, "definition").locator("textarea").fill(NEW["definition"])
        field(page, "formula").locator("input[type=text]").fill("revenue / visits")
        field(page, "unit").locator("input[type=text]").fill("CNY")
        pick(page, "fields", "insurance_claim", "insurance_claim_amount")
        pick(page, "rolls_up_to", "客单价", "客单价")
        page.fill("#reason", NEW["reason"])
        shot("create-form")
        page.click("#submit")
        page.wait_for_load_state("networkidle")
        match = re.search(r"/changes/(\d+)$", page.url)
        assert match, (page.url, page.locator("#errors").all_text_contents())
        cid = int(match.group(1))
        # the file it will live in, and names (not ids) in the before/after columns
        assert page.locator("#new-file code").text_content() == expected_file
        after = "\n".join(page.locator("table.diff td.new").all_text_contents())
        assert "财务部 (finance)" in after and "运营部 (ops)" in after
        assert "客单价 (atp)" in after
        assert "- 保险理赔代收金额 (dms.dms_orders.insurance_claim_amount)" in after
        shot("create-submitted")
        assert not (catalog / expected_file).exists()
        approve_and_apply(page, base, tokens, cid)
        timeline = page.locator("#timeline").text_content()
        assert expected_file in timeline, timeline  # the write-back's note names the file
        shot("create-applied")
        written = load_yaml((catalog / expected_file).read_text(encoding="utf-8"))
        assert written["id"] == NEW["id"] and written["name"] == NEW["name"]
        assert written["owner"] == "finance" and written["rolls_up_to"] == "atp"
        assert page.locator("#new-file").count() == 0  # written: no longer a prediction

        # -- deprecate: the same metric, through the form ------------------------------------
        sign_out(page)
        sign_in(page, base, tokens["zhang"])
        page.goto(f"{base}/changes/new?ref=Metric:{NEW['id']}&action=deprecate")
        page.wait_for_load_state("networkidle")
        assert field(page, "name").locator("input[type=text]").input_value() == NEW["name"]
        field(page, "status").locator("select").select_option("deprecated")
        page.fill("#reason", "由「客单价」的口径拆分替代，停用")
        shot("deprecate-form")
        page.click("#submit")
        page.wait_for_load_state("networkidle")
        match = re.search(r"/changes/(\d+)$", page.url)
        assert match, (page.url, page.locator("#errors").all_text_contents())
        status_row = page.locator("table.diff tr", has_text="status").text_content()
        assert "启用" in status_row and "已弃用" in status_row, status_row  # translated
        shot("deprecate-submitted")
        approve_and_apply(page, base, tokens, int(match.group(1)))
        shot("deprecate-applied")
        written = load_yaml((catalog / expected_file).read_text(encoding="utf-8"))
        assert written["status"] == "deprecated"
        assert script_errors == []
    finally:
        context.close()
