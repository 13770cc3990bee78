"""Pure pieces of governance: the workflow table, who may act, message bodies per webhook
format, tokens and sessions."""

from __future__ import annotations

import itertools

import pytest

from core import i18n
from core.security import FailureLimiter, SessionSigner, new_token, parse_token, verify_secret
from governance import workflow
from governance.notify import FORMATS, markdown, outbox_items, payload, render, slack_escape
from graph_schema.governance import (
    Action,
    Approval,
    ChangeRequest,
    ChangeStatus,
    Role,
    Stage,
    User,
)

S = ChangeStatus


def change(
    status: ChangeStatus = S.SUBMITTED, approvals: list[Approval] | None = None
) -> ChangeRequest:
    return ChangeRequest(
        id=3,
        action=Action.UPDATE,
        ref="Metric:atp",
        reason="[x](http://evil) <b>",
        requester="zhang",
        status=status,
        approvals_required=[
            Stage(stage="owner", department="finance"),
            Stage(stage="owner", department="ops"),
            Stage(stage="committee"),
        ],
        approvals=approvals or [],
        new_version="2.0.0",
        change_class="major",
        created_at="t",
        updated_at="t",
    )


def user(name: str, role: Role, dept: str | None = None) -> User:
    return User(name=name, role=role, department=dept, token_id=name, created_at="t")


def test_final_states_have_no_way_out() -> None:
    for final, other in itertools.product(workflow.FINAL, ChangeStatus):
        assert not workflow.can_move(final, other)
    assert all(a in workflow.OPEN for a, _ in workflow.TRANSITIONS)


def test_who_may_act_at_each_stage() -> None:
    c = change()
    assert workflow.stage_for(user("zhang", Role.ADMIN), c) is None  # own request
    assert workflow.stage_for(user("li", Role.OWNER, "ops"), c) == Stage(
        stage="owner", department="ops"
    )
    assert workflow.stage_for(user("x", Role.OWNER, "it"), c) is None
    assert workflow.stage_for(user("w", Role.COMMITTEE), c) is None  # owners first
    assert workflow.stage_for(user("e", Role.EDITOR), c) is None
    a1 = Approval(stage="owner", department="ops", by="li", at="t")
    a2 = Approval(stage="owner", department="finance", by="qian", at="t")
    assert workflow.status_after_approval(c, a1) is S.SUBMITTED
    half = change(approvals=[a1])
    assert workflow.status_after_approval(half, a2) is S.OWNER_APPROVED
    owners_done = change(S.OWNER_APPROVED, [a1, a2])
    assert workflow.stage_for(user("w", Role.COMMITTEE), owners_done) == Stage(stage="committee")
    assert workflow.stage_for(user("li", Role.OWNER, "ops"), owners_done) is None
    final = Approval(stage="committee", by="w", at="t")
    assert workflow.status_after_approval(owners_done, final) is S.APPROVED
    approved = change(S.APPROVED, [a1, a2, final])
    assert workflow.may_reject(user("w", Role.COMMITTEE), approved)
    assert not workflow.may_reject(user("li", Role.OWNER, "ops"), approved)
    assert workflow.may_withdraw(user("zhang", Role.EDITOR), approved)
    assert not workflow.may_withdraw(user("li", Role.OWNER, "ops"), approved)
    revoked = user("li", Role.OWNER, "ops").model_copy(update={"revoked_at": "t"})
    assert workflow.stage_for(revoked, c) is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_message_bodies(fmt: str) -> None:
    body = payload(change(), "submit", "zhang", "请审批", "http://kpi.example")
    out = render(fmt, body)
    text = markdown(body)
    assert "\\[x\\]\\(http://evil\\) \\<b\\>" in text  # user text cannot inject links or HTML
    assert "http://kpi.example/changes/3" in text
    if fmt == "json":
        assert out["change"]["id"] == 3 and out["event"] == "submit"
    elif fmt == "wecom":
        assert out == {"msgtype": "markdown", "markdown": {"content": text}}
    elif fmt == "dingtalk":
        assert out["msgtype"] == "markdown" and out["markdown"]["text"] == text
    elif fmt == "feishu":
        assert out["msg_type"] == "interactive"
        assert out["card"]["elements"][0]["content"] == text
    else:  # Slack ignores backslashes: its entities for < > & (H-review)
        assert out == {"text": markdown(body, slack_escape)}
        assert "&lt;b&gt;" in out["text"] and "<b>" not in out["text"]


def test_tokens_and_sessions() -> None:
    token = new_token()
    parsed = parse_token(token.value)
    assert parsed is not None and verify_secret(token.secret_hash, parsed.secret)
    assert not verify_secret(token.secret_hash, parsed.secret + "x")
    assert not verify_secret(None, parsed.secret)  # unknown id: still one verification, False
    assert token.value not in token.secret_hash
    for bad in ("", "kpg", "kpg_x_y", f"kpg_{'g' * 12}_{'x' * 40}", "Bearer kpg_1_2"):
        assert parse_token(bad) is None
    signer = SessionSigner("k" * 32)
    cookie = signer.dump("abc")
    assert SessionSigner("other-key" * 4).load(cookie) is None
    assert signer.load(cookie)["csrf"]  # type: ignore[index]
    limiter = FailureLimiter(limit=3, window=60)
    for _ in range(3):
        assert limiter.blocked("c") == 0
        limiter.fail("c")
    assert limiter.blocked("c") > 0 and limiter.blocked("other") == 0


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh", ["指标变更申请已提交", "申请人：", "状态：已提交"]),
        ("en", ["Change request submitted", "Requester: zhang", "Status: submitted"]),
        (None, ["指标变更申请已提交"]),  # a catalog without a language: zh
    ],
)
def test_notifications_speak_the_catalogs_language(language: str | None, words: list[str]) -> None:
    """#24: one language per message, the catalog's — not two, and not the browser's of
    whoever clicked (the request below chose the other language)."""
    other = "zh" if language == "en" else "en"
    with i18n.use(other):
        items = outbox_items(
            change(), 1, "submit", [("https://x.example/h", "wecom")], "zhang", None, "http://k",
            language=language,
        )  # fmt: skip
    text = items[0].body["markdown"]["content"]
    for word in words:
        assert word in text, text
    assert ("Requester" in text) == (language == "en")
