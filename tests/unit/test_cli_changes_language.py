"""Issue 24 (walk5 items 4, 5, 11): ``propose`` / ``changes`` speak the language of the catalog
the server serves (not always zh), the server's refusals come in that language too, and
``changes show`` reads as ``history`` does: calibers in words, department names, the stages
named as the change page names them; ``changes apply`` says which revision it published."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from api.app import create_app
from cli import cli
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from tests.governance_helpers import make_people, running_server
from tests.helpers import DEMO
from tests.i18n_text import cjk_left, data_strings, without_data


def catalog(tmp_path: Path, lang: str) -> Path:
    root = tmp_path / f"cat_{lang}"
    shutil.copytree(DEMO, root)
    manifest = root / "kpigraph.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "language: zh" in text
    manifest.write_text(text.replace("language: zh", f"language: {lang}"), encoding="utf-8")
    return root


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def served(tmp_path: Path, lang: str) -> tuple[EmbeddedStore, dict[str, str]]:
    db = tmp_path / f"kg_{lang}.sqlite"
    store = EmbeddedStore(db)
    store.load(load_catalog(catalog(tmp_path, lang)))
    _users, tokens = make_people(ledger_for(store))
    return store, tokens


def caliber_change(base: str, tmp_path: Path) -> Path:
    """The demo's revenue with one more exclusion in its caliber (a major change)."""
    metric = json.loads(urllib.request.urlopen(f"{base}/api/metrics/revenue").read())["metric"]
    metric = {k: v for k, v in metric.items() if k not in ("kind", "ref", "version")}
    caliber = metric["caliber"]
    part = "scope" if "scope" in caliber else next(iter(caliber))
    caliber[part] = {
        **caliber[part],
        "excludes": [*caliber[part].get("excludes", []), "测试排除项"],
    }
    path = tmp_path / "revenue.yaml"
    path.write_text(yaml.safe_dump(metric, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_changes_speak_the_served_catalogs_language(tmp_path: Path, lang: str) -> None:
    store, tokens = served(tmp_path, lang)
    app = create_app(Settings(db=store.path, notify=False), store=store)
    with running_server(app) as base:
        path = caliber_change(base, tmp_path)
        common = ["--server", base]
        made = run("propose", str(path), "-m", "scope", *common, "--token", tokens["zhang"])
        assert made.exit_code == 0, made.output
        listed = run("changes", "list", *common)
        shown = run("changes", "show", "1", *common)
        own = run("changes", "approve", "1", *common, "--token", tokens["zhang"])
        early = run("changes", "approve", "1", *common, "--token", tokens["li"])
        needed = json.loads(run("changes", "show", "1", *common, "--json").output)
        for stage in needed["approvals_required"]:
            who = {"finance": "qian", "ops": "li", None: "wang"}[stage.get("department")]
            r = run("changes", "approve", "1", *common, "--token", tokens[who])
            assert r.exit_code == 0, r.output
        applied = run("changes", "apply", "1", *common, "--token", tokens["root"])
        assert applied.exit_code == 0, applied.output
        forced = run("--lang", "zh" if lang == "en" else "en", "changes", "show", "1", *common)
    assert own.exit_code != 0 and early.exit_code != 0
    text = "\n".join(r.output for r in (made, listed, shown, own, early, applied))
    if lang == "en":
        assert "Metric:revenue" in made.output and "waiting for" in made.output
        assert "submitted" in listed.output and "own request" in own.output
        assert "owner of Finance" in early.output or "owner of 财务" in early.output
        # nothing of the UI in Chinese: only the catalog's own words (names, the caliber)
        graph = load_catalog(DEMO)
        data = data_strings([n.props() for n in graph.nodes]) | {"测试排除项"}
        leftovers = cjk_left(without_data(text.splitlines(), data))
        assert leftovers == [], leftovers
        assert "提交" not in text and "等待" not in text and "委员会" not in text
        assert "已提交" in forced.output  # --lang still wins
    else:
        assert "等待" in made.output and "已提交" in listed.output
        assert "申请人不能审批" in own.output, own.output
        assert "may not" not in early.output and "waiting for" not in early.output
        assert "负责人初审" in shown.output and "委员会 :" not in shown.output
        assert "submitted" in forced.output
    # changes show: the caliber as history renders it, not JSON; departments by name
    assert '{"' not in shown.output and "测试排除项" in shown.output
    assert "finance" not in shown.output.replace("Metric:", "")
    assert (
        ("r2" in applied.output) or ("revision 2" in applied.output) or ("修订 2" in applied.output)
    )
