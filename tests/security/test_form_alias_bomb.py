"""The change form's YAML view (``POST /changes``) read the definition with ``yaml.safe_load``:
YAML aliases (``*a``) expand by reference, so 2 KB of text became a definition of 43 million
list items, and the proposal's first look at it (is each field empty?) walked every one — a
signed-in editor held a server worker for minutes per request (review). The definition's size
is now counted once aliases are expanded, bounded, before anything else walks it."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import httpx

from tests.helpers import DEMO
from tests.serve_process import people_tokens, serving


def _bomb() -> str:
    lines = ["id: atp", "name: 客单价", 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join([*lines, "caveats: *a8", "extra: {k: *a8}"]) + "\n"


def test_an_alias_bomb_in_the_form_is_refused_at_once(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    shutil.copytree(DEMO, cat)
    db = tmp_path / "kpigraph.sqlite"
    with serving(["--catalog", str(cat)], db, tmp_path / "serve.log") as base:
        tokens = people_tokens(db)
        with httpx.Client(base_url=base, timeout=20) as client:
            pre = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
            assert pre
            data = {"token": tokens["zhang"], "csrf": pre.group(1), "next": "/changes"}
            assert client.post("/signin", data=data).status_code == 303
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/changes").text)
            assert csrf
            version = client.get("/api/metrics/atp").json()["metric"]["version"]
            form = {
                "ref": "Metric:atp",
                "definition": _bomb(),
                "reason": "x",
                "action": "update",
                "base_version": version,
                "csrf": csrf.group(1),
            }
            started = time.monotonic()
            r = client.post("/changes", data=form)
            assert r.status_code == 422, r.text[:500]
            assert time.monotonic() - started < 10
            assert "*name" in r.text  # the aliases named, in the catalog's language
            assert client.get("/health").status_code == 200
            # the YAML view's conversion reads the same text: refused as fast
            started = time.monotonic()
            r = httpx.post(
                base + "/changes/form/yaml",
                json={"text": _bomb()},
                headers={"Authorization": f"Bearer {tokens['zhang']}"},
                timeout=20,
            )
            assert r.status_code == 422 and "*name" in r.json()["error"], r.text[:300]
            assert time.monotonic() - started < 10
