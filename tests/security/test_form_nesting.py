"""The change form's YAML view under deep nesting (review): on a real server, a signed-in
editor's ``POST /changes/form/yaml`` with a mapping nested 500 deep, or YAML text with 3,000
``[``, and the form's ``POST /changes`` with that text, each ended in a 500 (PyYAML and the
YAML dumper recurse per level: ``RecursionError``). Now each is a 422 naming the limit, and the
server goes on answering."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx

from graph_schema.limits import MAX_NESTING
from tests.helpers import DEMO
from tests.serve_process import people_tokens, serving

DEEP_TEXT = "id: atp\nname: 客单价\nextra:\n  a: " + "[" * 3000 + "]" * 3000 + "\n"
DEEP_JSON = '{"data": {"id": "atp", "extra": ' + "[" * 500 + "]" * 500 + "}}"


def test_deep_definitions_are_refused_by_name(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    db = tmp_path / "kpigraph.sqlite"
    with serving(["--catalog", str(cat)], db, tmp_path / "serve.log") as base:
        tokens = people_tokens(db)
        bearer = {"Authorization": f"Bearer {tokens['zhang']}"}
        limit = f"{MAX_NESTING}"
        r = httpx.post(
            base + "/changes/form/yaml",
            content=DEEP_JSON,
            headers={**bearer, "Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 422 and limit in r.json()["error"], r.text[:300]
        r = httpx.post(base + "/changes/form/yaml", json={"text": DEEP_TEXT}, headers=bearer)
        assert r.status_code == 422 and limit in r.json()["error"], r.text[:300]
        with httpx.Client(base_url=base, timeout=30) as client:
            pre = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
            assert pre
            data = {"token": tokens["zhang"], "csrf": pre.group(1), "next": "/changes"}
            assert client.post("/signin", data=data).status_code == 303
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/changes").text)
            assert csrf
            form = {"ref": "Metric:atp", "definition": DEEP_TEXT, "reason": "x", "csrf": csrf[1]}
            r = client.post("/changes", data=form)
            assert r.status_code == 422 and limit in r.text, r.text[:500]
            assert client.get("/health").status_code == 200
