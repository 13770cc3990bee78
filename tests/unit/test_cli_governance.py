"""The governance CLI: users (token printed once, hashed in the store), notifications, and
propose / changes talking to a real server over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from api.app import create_app
from cli import main as cli_main  # noqa: F401  (the entry point exists)
from cli.changes import changes_group, propose
from cli.notifications import notifications_group
from cli.users import users_group
from core import i18n
from core.settings import Settings
from loaders.catalog import load_catalog
from store.embedded import EmbeddedStore
from store.ledger import ledger_for
from tests.governance_helpers import receiver, running_server, with_webhooks
from tests.helpers import DEMO


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "kg.sqlite"
    EmbeddedStore(path).load(load_catalog(DEMO))
    return path


def run(command: Any, *args: str) -> Any:
    result = CliRunner().invoke(command, list(args), catch_exceptions=False)
    return result


def test_users_add_list_revoke(db: Path) -> None:
    r = run(
        users_group,
        "add",
        "li",
        "--role",
        "owner",
        "--department",
        "ops",
        "--db",
        str(db),
        "--json",
    )
    assert r.exit_code == 0, r.output
    token = json.loads(r.output)["token"]
    assert token.startswith("kpg_")
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))  # with the WAL
    secret = token.split("_", 2)[2]  # kpg_<id>_<secret>; the secret may hold '_' itself
    assert token.encode() not in raw and secret.encode() not in raw  # hash only
    listed = run(users_group, "list", "--db", str(db), "--json")
    assert [u["name"] for u in json.loads(listed.output)] == ["li"]
    assert secret not in listed.output  # the id is public, the secret never
    bad = CliRunner().invoke(users_group, ["add", "x", "--role", "owner", "--db", str(db)])
    assert bad.exit_code != 0
    assert run(users_group, "revoke", "li", "--db", str(db)).exit_code == 0
    user = ledger_for(EmbeddedStore(db)).user_by_token_id(token.split("_")[1])
    assert user is not None and user[0].revoked_at


def test_propose_and_review_through_a_server(db: Path, tmp_path: Path) -> None:
    tokens = {}
    for name, role, dept in (
        ("zhang", "editor", None),
        ("li", "owner", "ops"),
        ("qian", "owner", "finance"),
        ("wang", "committee", None),
        ("root", "admin", None),
    ):
        args = ["add", name, "--role", role, "--db", str(db), "--json"]
        if dept:
            args += ["--department", dept]
        tokens[name] = json.loads(run(users_group, *args).output)["token"]
    store = EmbeddedStore(db)
    with receiver() as rec:
        store.load(with_webhooks(load_catalog(DEMO), {"ops": [{"url": rec.url("/ops")}]}))
        app = create_app(Settings(db=db, notify=False), store=store)
        with running_server(app) as base:
            atp = json.loads(
                __import__("urllib.request").request.urlopen(f"{base}/api/metrics/atp").read()
            )["metric"]
            atp = {k: v for k, v in atp.items() if k not in ("kind", "ref", "version")}
            atp["unit"] = "元"
            path = tmp_path / "atp.yaml"
            path.write_text(yaml.safe_dump(atp, allow_unicode=True), encoding="utf-8")
            common = ["--server", base]
            r = run(
                propose,
                str(path),
                "-m",
                "单位改为元",
                *common,
                "--token",
                tokens["zhang"],
                "--json",
            )
            assert r.exit_code == 0, r.output
            made = json.loads(r.output)
            assert [(c["ref"], c["change_class"], c["new_version"]) for c in made] == [
                ("Metric:atp", "major", "2.0.0")
            ]
            cid = str(made[0]["id"])
            # the same proposal again, from anyone, while #cid is open: no second request to
            # approve on its own (it would split the committee's approvals); #cid is named
            again = run(propose, str(path), "-m", "x", *common, "--token", tokens["li"])
            assert again.exit_code == 0, again.output
            assert f"已有相同的申请 #{cid}（zhang 提交，已提交）" in again.output
            listed = run(changes_group, "list", *common, "--json")
            assert [c["id"] for c in json.loads(listed.output)["items"]] == [int(cid)]
            as_json = run(propose, str(path), "-m", "x", *common, "--token", tokens["li"], "--json")
            assert [(c["id"], c["already_proposed"]) for c in json.loads(as_json.output)] == [
                (int(cid), True)
            ]
            # over HTTP the same refusal: 409 already_proposed naming #cid, in the asked language
            body = {
                "action": "update",
                "ref": "Metric:atp",
                "base_version": made[0]["base_version"],
                "definition": made[0]["definition"],
                "reason": "same again",
            }
            answer = httpx.post(
                f"{base}/api/changes",
                json=body,
                headers={"Authorization": f"Bearer {tokens['qian']}", "Accept-Language": "en"},
            )
            assert answer.status_code == 409, answer.text
            error = answer.json()["error"]
            assert error["code"] == "already_proposed"
            assert error["details"] == {
                "id": int(cid),
                "ref": "Metric:atp",
                "status": "submitted",
                "requester": "zhang",
            }
            assert error["message"].startswith(f"already proposed as #{cid} by zhang (submitted)")
            own = CliRunner().invoke(
                changes_group, ["approve", cid, *common, "--token", tokens["zhang"]]
            )
            assert own.exit_code != 0 and "申请人不能审批" in own.output  # the catalog speaks zh
            for name in ("li", "qian", "wang"):
                r = run(changes_group, "approve", cid, "-m", "ok", *common, "--token", tokens[name])
                assert r.exit_code == 0, r.output
            r = run(changes_group, "apply", cid, *common, "--token", tokens["root"], "--json")
            assert json.loads(r.output)["status"] == "applied"
            shown = run(changes_group, "show", cid, *common)
            assert "已发布" in shown.output and "unit" in shown.output  # applied, in zh
            # the timeline in words of the language (the catalog's zh by default; --lang en)
            assert "提交 → 已提交" in shown.output and "发布 → 已发布" in shown.output
            assert "submit → submitted" not in shown.output
            with i18n.use("en"):
                shown = run(changes_group, "show", cid, *common)
            assert "submit → submitted" in shown.output and "approve → approved" in shown.output
            listed = run(changes_group, "list", "--status", "applied", *common, "--json")
            assert [c["id"] for c in json.loads(listed.output)["items"]] == [int(cid)]
        assert run(notifications_group, "list", "--db", str(db), "--json").exit_code == 0
        r = run(notifications_group, "retry", "--db", str(db))
        assert r.exit_code == 0
        assert len(rec.bodies("/ops")) >= 5  # delivered by 'retry' (due items go out too)


def test_propose_a_catalog_directory_makes_one_request_per_changed_metric(
    db: Path, tmp_path: Path
) -> None:
    import shutil

    token = json.loads(
        run(users_group, "add", "zhang", "--role", "editor", "--db", str(db), "--json").output
    )["token"]
    catalog = tmp_path / "catalog"
    shutil.copytree(DEMO, catalog)
    atp = catalog / "metrics" / "revenue" / "atp.yaml"
    text = atp.read_text(encoding="utf-8")
    assert "unit: CNY" in text
    atp.write_text(text.replace("unit: CNY", "unit: 元"), encoding="utf-8")
    app = create_app(Settings(db=db, notify=False), store=EmbeddedStore(db))
    with running_server(app) as base:
        r = run(
            propose, str(catalog), "-m", "单位统一", "--server", base, "--token", token, "--json"
        )
        assert r.exit_code == 0, r.output
        assert [c["ref"] for c in json.loads(r.output)] == ["Metric:atp"]
        none = run(propose, str(DEMO), "-m", "x", "--server", base, "--token", token)
        assert "没有任何不同" in none.output  # the demo catalog speaks zh


@pytest.mark.parametrize(
    "args",
    [
        ["users", "--help"],
        ["users", "add", "--help"],
        ["users", "list", "--help"],
        ["users", "revoke", "--help"],
        ["propose", "--help"],
        ["changes", "--help"],
        ["changes", "list", "--help"],
        ["changes", "show", "--help"],
        ["changes", "approve", "--help"],
        ["changes", "reject", "--help"],
        ["changes", "withdraw", "--help"],
        ["changes", "apply", "--help"],
        ["notifications", "--help"],
        ["notifications", "list", "--help"],
        ["notifications", "retry", "--help"],
    ],
)
def test_help(args: list[str]) -> None:
    from cli import cli

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "用法：" in result.output  # the CLI's default language (zh); both: test_i18n_commands
    english = CliRunner().invoke(cli, ["--lang", "en", *args])
    assert english.exit_code == 0 and "Usage:" in english.output, english.output


def test_root_help_does_not_import_governance() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from click.testing import CliRunner; from cli import cli; "
        "r = CliRunner().invoke(cli, ['--help']); "
        "assert 'notifications' in r.output and 'propose' in r.output, r.output; "
        "print(sorted(m for m in sys.modules if m.startswith(('governance', 'cli.users', "
        "'cli.changes', 'argon2', 'itsdangerous'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.usefixtures("english")  # reads the English warning
def test_owner_created_before_the_first_load_with_a_warning(tmp_path: Path) -> None:
    """Issue 22: owners may be created before the catalog is loaded; an unknown department
    is a warning, and the command says which store the user went to."""
    empty = tmp_path / "empty.sqlite"
    r = CliRunner().invoke(
        users_group, ["add", "li", "--role", "owner", "--department", "ops", "--db", str(empty)]
    )
    assert r.exit_code == 0, r.output
    assert "warning: no department 'ops'" in r.output
    assert f"created in {empty}" in r.output.replace("\n", "")
