"""Every page's header names the catalog served (汽车售后门店指标字典), not the generic
"指标字典": the governance pages (change queue, a change, discussion, usage, sign-in) said
"kpigraph · 指标字典" on the demo while the home page said its name."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.helpers import demo_store

PAGES = ["/", "/changes", "/stats", "/signin", "/metrics/atp/discussion", "/history", "/lint"]


@pytest.mark.parametrize("url", PAGES)
def test_the_header_names_the_catalog(url: str) -> None:
    with TestClient(create_app(store=demo_store())) as c:
        r = c.get(url, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 200, r.text[:300]
    brand = re.search(r'<a class="brand" href="/">([^<]*)</a>', r.text)
    assert brand is not None and brand.group(1) == "kpigraph · 汽车售后门店指标字典", brand
