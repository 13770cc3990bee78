"""The committee flow with the structured change form, in real headless Chromium, on the
Chinese demo catalog and on the same catalog declared English (``language: en``, English
department names): an editor changes 客单价's definition and adds a row without typing YAML,
picks a field from the search, meets a server-side error next to its field, submits; the
owner departments approve, the committee approves, an admin applies; the change page shows
the applied revision and a timeline in the catalog's language. Screenshots:
test-artifacts/change-form-<lang>-*.png."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from graph_schema.ids import NodeRef
from graph_schema.models import Metric
from loaders.catalog import load_catalog
from store.base import GraphStore
from store.embedded import EmbeddedStore
from tests.governance_helpers import fresh_ledger, make_people
from tests.helpers import DEMO

pytestmark = pytest.mark.browser

ENGLISH_DEPARTMENTS = """\
- {id: ops, name: Store Operations, description: owns the store metrics}
- {id: finance, name: Finance, description: reviews revenue and profit}
- {id: it, name: IT, description: source systems}
- {id: analytics, name: Analytics, description: data support}
- {id: customer_service, name: Customer Service, description: satisfaction}
- {id: marketing, name: Marketing, description: campaigns}
"""

#: per language: the words the test types and the words the pages must show
CASES = {
    "zh": {
        "locale": "zh-CN",
        "definition": "单个客户单次进厂消费的平均金额（不含延保代收款）。",
        "exclude": "延保代收款（代收代付，不计入门店收入）",
        "reason": "财务要求：延保代收款不计入营收",
        "owner": "运营部",
        "reviewer": "财务部",
        "timeline": ["提交 → 已提交", "批准 → 已批准", "发布 → 已发布"],
        "applied": "已发布",
        "waiting": "运营部负责人",
    },
    "en": {
        "locale": "en-US",
        "definition": "Average spend per customer visit, without extended-warranty collections.",
        "exclude": "Extended-warranty collections (collected for a third party)",
        "reason": "Finance: extended-warranty collections are not revenue",
        "owner": "Store Operations",
        "reviewer": "Finance",
        "timeline": ["submit → submitted", "approve → approved", "apply → applied"],
        "applied": "applied",
        "waiting": "Store Operations owner",
    },
}


def english_catalog(root: Path) -> Path:
    """The demo catalog declared English, with English department names and 客单价 named in
    English (the other metrics keep their Chinese names: catalog words, not page words)."""
    shutil.copytree(DEMO, root)
    meta = root / "kpigraph.yaml"
    meta.write_text(
        meta.read_text(encoding="utf-8").replace("language: zh", "language: en"), encoding="utf-8"
    )
    (root / "departments.yaml").write_text(ENGLISH_DEPARTMENTS, encoding="utf-8")
    atp = root / "metrics" / "revenue" / "atp.yaml"
    atp.write_text(
        atp.read_text(encoding="utf-8").replace("name: 客单价", "name: Average ticket price"),
        encoding="utf-8",
    )
    return root


def sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("#token", token)
    page.click("#signin")
    page.wait_for_load_state()
    assert page.locator("#whoami").count() == 1, page.locator("main").text_content()[:600]


def sign_out(page: Any) -> None:
    page.click("nav.govnav button.link")
    page.wait_for_load_state()


def field(page: Any, path: str) -> Any:
    return page.locator(f'#structured .fld[data-path="{path}"]')


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_committee_flow_with_the_structured_form(
    browser: Any,
    serve: Callable[[GraphStore], str],
    tmp_path: Path,
    artifacts: Path,
    lang: str,
) -> None:
    case = CASES[lang]
    catalog = DEMO if lang == "zh" else english_catalog(tmp_path / "en-catalog")
    store = EmbeddedStore(tmp_path / "gov.sqlite")
    store.load(load_catalog(catalog))
    _users, tokens = make_people(fresh_ledger(store))
    base = serve(store)
    context = browser.new_context(viewport={"width": 1300, "height": 900}, locale=case["locale"])
    page = context.new_page()
    page.set_default_timeout(30_000)
    script_errors: list[str] = []
    page.on("pageerror", lambda e: script_errors.append(str(e)))
    shot = lambda name: page.screenshot(  # noqa: E731
        path=str(artifacts / f"change-form-{lang}-{name}.png"), full_page=True
    )
    try:
        sign_in(page, base, tokens["zhang"])
        page.goto(f"{base}/metrics/atp")
        page.click("#propose-change")
        page.wait_for_load_state("networkidle")

        # the form, not the YAML: sections of the template, names where ids are stored
        assert page.locator("#structured fieldset.sec").count() >= 6
        assert not page.locator("#definition").is_visible()
        owner = field(page, "owner").locator(".chip")
        assert case["owner"] in owner.text_content() and "ops" in owner.text_content()
        assert case["reviewer"] in field(page, "reviewer").locator(".chip").text_content()
        excludes = field(page, "caliber.numerator.excludes")
        rows_before = excludes.locator(".row").count()
        shot("form")

        # edit the definition, add a row, pick a field and a dimension by search, break the
        # formula on purpose
        field(page, "definition").locator("textarea").fill(case["definition"])
        excludes.locator("button.add").click()
        excludes.locator(".row input").last.fill(case["exclude"])
        assert excludes.locator(".row").count() == rows_before + 1
        fields = field(page, "fields")
        fields.locator("input[type=search]").fill("insurance_claim")
        fields.locator(".picker li button", has_text="insurance_claim_amount").click()
        assert "dms.dms_orders.insurance_claim_amount" in fields.text_content()
        causes = field(page, "causes")  # a row with a picker inside: 满意度 drives 客单价
        causes.locator("button.add").click()
        causes.locator(".row.cols input[type=search]").fill("nps")
        causes.locator(".picker li button", has_text="nps").first.click()
        causes.locator(".row.cols input[type=text]").first.fill("1-2 months")
        page.locator('#structured .fld[data-path="causes"]').screenshot(
            path=str(artifacts / f"change-form-{lang}-rows.png")
        )
        field(page, "formula").locator("input[type=text]").fill("revenue / visitz")
        page.fill("#reason", case["reason"])

        # the YAML view shows the same definition (and back again)
        page.click("#view-yaml")
        page.wait_for_function("!document.getElementById('yaml-pane').classList.contains('hidden')")
        text = page.input_value("#definition")
        assert case["exclude"] in text and "insurance_claim_amount" in text
        assert "formula: revenue / visitz" in text
        page.click("#view-form")
        page.wait_for_function(
            "!document.getElementById('structured').classList.contains('hidden')"
        )
        assert field(page, "caliber.numerator.excludes").locator(".row").count() == rows_before + 1

        page.click("#submit")
        page.wait_for_load_state("networkidle")
        # the server's message sits next to the formula; nothing typed is lost
        formula_error = field(page, "formula").locator(".fielderr")
        assert formula_error.count() == 1 and "visitz" in formula_error.text_content()
        assert page.input_value("#reason") == case["reason"]
        assert field(page, "definition").locator("textarea").input_value() == case["definition"]
        shot("field-error")

        field(page, "formula").locator("input[type=text]").fill("")
        field(page, "formula").locator("input[type=search]").fill("revenue")
        field(page, "formula").locator(".picker li button", has_text="revenue").first.click()
        formula = field(page, "formula").locator("input[type=text]")
        formula.press("End")
        formula.type(" / ")
        field(page, "formula").locator("input[type=search]").fill("visits")
        field(page, "formula").locator(".picker li button", has_text="visits").first.click()
        assert formula.input_value() == "revenue / visits"
        page.click("#submit")
        page.wait_for_load_state("networkidle")
        assert re.search(r"/changes/1$", page.url), page.url
        shot("submitted")
        page.goto(f"{base}/changes")  # the queue says whom it waits for, by name
        queue = page.locator("main").text_content()
        assert case["waiting"] in queue and "ops" not in queue.replace("Store Operations", "")
        shot("queue")
        page.goto(f"{base}/changes/1")
        sign_out(page)

        for name in ("li", "qian", "wang"):  # both owner departments, then the committee
            sign_in(page, base, tokens[name])
            page.goto(f"{base}/changes/1")
            if name != "wang":
                assert (
                    case["owner"] in page.locator("#act").text_content()
                    or case["reviewer"] in page.locator("#act").text_content()
                )
            page.click("#approve")
            page.wait_for_load_state()
            assert page.locator("#done").count() == 1
            sign_out(page)

        sign_in(page, base, tokens["root"])
        page.goto(f"{base}/changes/1")
        page.click("#apply")
        page.wait_for_load_state()
        assert case["applied"] in page.locator("#status").text_content()
        revision = page.locator("#applied-revision a")
        assert revision.count() == 1 and re.fullmatch(r"r\d+", revision.text_content())
        timeline = page.locator("#timeline .event").all_text_contents()
        for words in case["timeline"]:
            assert words in [re.sub(r" \(.*\)", "", t).strip() for t in timeline], timeline
        approvals = page.locator("table").nth(2).text_content()
        assert case["owner"] in approvals and case["reviewer"] in approvals
        diff = page.locator("table.diff").text_content()  # ids named, as the catalog does
        assert "+ 保险理赔代收金额 (dms.dms_orders.insurance_claim_amount)" in diff
        shot("applied")
        assert script_errors == []
    finally:
        context.close()

    metric = store.get_nodes([NodeRef.parse("Metric:atp")])[NodeRef.parse("Metric:atp")]
    assert isinstance(metric, Metric)
    assert metric.definition == case["definition"]
    assert metric.caliber is not None and metric.caliber.numerator is not None
    assert case["exclude"] in metric.caliber.numerator.excludes
    assert "dms.dms_orders.insurance_claim_amount" in metric.fields
    assert metric.formula == "revenue / visits" and metric.version == "2.0.0"
    assert [(c.metric, c.lag) for c in metric.causes] == [("nps", "1-2 months")]
