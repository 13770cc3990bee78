"""Pages of the change workflow: the queue, one request (printable), the propose form, and a
metric's discussion. Forms carry the session's CSRF token (checked in :mod:`api.auth`)."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from pydantic import Field as PydField

from api.auth import CsrfToken, OptionalUser, Writer
from api.dependencies import StoreDep, catalog_name
from core.i18n import N_, _
from governance import comments as comment_svc
from governance import workflow
from governance.changes import Governance
from governance.proposal import PROPOSAL_FILE
from graph_schema.errors import CatalogError, CatalogIssue
from graph_schema.governance import Action, ChangeStatus, User
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.limits import MAX_EXPANDED, MAX_NESTING, definition_size, nesting_depth
from graph_schema.models import Metric
from store.base import GraphStore
from viz import change_form
from viz.pages import render_page, script_json

router = APIRouter(include_in_schema=False)
#: change-request statuses in words (ids extracted by pybabel; shown in the request's language)
STATUS_LABELS = {
    "submitted": N_("submitted, waiting for the owner's review"),
    "owner_approved": N_("owner approved, waiting for the committee"),
    "approved": N_("approved, waiting to be applied"),
    "applied": N_("applied"),
    "rejected": N_("rejected"),
    "withdrawn": N_("withdrawn"),
}


def _gov(request: Request) -> Governance:
    service: Governance = request.app.state.gov
    return service


def _page(
    template: str, store: GraphStore, user: User | None, csrf: str | None, **context: Any
) -> HTMLResponse:
    return HTMLResponse(
        render_page(
            template,
            catalog_name=catalog_name(store),
            user=user,
            csrf=csrf,
            labels={k: _(v) for k, v in STATUS_LABELS.items()},
            **context,
        )
    )


@router.get("/changes", response_class=HTMLResponse)
def queue(
    request: Request,
    user: OptionalUser,
    csrf: CsrfToken,
    status: Annotated[str | None, Query(max_length=30)] = None,
) -> HTMLResponse:
    changes = _gov(request).ledger.changes(status if status in STATUS_LABELS else None)
    mine = [c for c in changes if user and workflow.stage_for(user, c)]
    if user and user.role.value == "admin":
        mine += [c for c in changes if c.status is ChangeStatus.APPROVED]
    groups = {s: [c for c in changes if c.status.value == s] for s in STATUS_LABELS}
    stages = {c.id: workflow.current_stages(c) for c in changes}
    wanted = {
        NodeRef(NodeKind.DEPARTMENT, s.department)
        for st in stages.values()
        for s in st
        if s.department
    }
    names = {  # who a request waits for, by name (运营部), not by id (ops)
        ref.id: node.name
        for ref, node in (_gov(request).store.get_nodes(list(wanted)) if wanted else {}).items()
    }
    waiting = {
        c.id: _(", ").join(
            _("{department} owner", department=names.get(s.department, s.department))
            if s.department
            else _("the committee")
            for s in stages[c.id]
        )
        or (_("an admin, to apply") if c.status is ChangeStatus.APPROVED else "")
        for c in changes
    }
    return _page(
        "changes.html",
        _gov(request).store,
        user,
        csrf,
        groups=groups,
        mine=mine,
        status=status,
        waiting=waiting,
    )


def _dump(data: dict[str, Any]) -> str:
    """A definition as the YAML view shows it (the catalog files' key order)."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def _propose_page(
    store: GraphStore,
    user: User | None,
    csrf: str | None,
    *,
    ref: str,
    action: str,
    base_version: str | None,
    definition: str,
    data: dict[str, Any] | None,
    reason: str,
    mode: str,
    issues: list[Any],
) -> str:
    """The propose page: the structured form over ``data`` (the definition as a mapping) and
    the YAML view over ``definition`` (its text), with each validation message placed next
    to the field it names."""
    by_field, general = change_form.placed(issues)
    schema = change_form.form_schema()
    form = {
        **schema,
        "data": jsonable_encoder(data) if data is not None else {},
        "names": change_form.ref_names(store, data or {}),
        "errors": by_field,
        "mode": mode if data is not None else "yaml",  # unreadable YAML stays in the YAML view
    }
    return render_page(
        "propose.html",
        catalog_name=catalog_name(store),
        user=user,
        csrf=csrf,
        labels={k: _(v) for k, v in STATUS_LABELS.items()},
        ref=ref,
        action=action,
        base_version=base_version,
        definition=definition,
        reason=reason,
        errors=general,
        field_errors=by_field,
        field_labels={f["path"]: f["label"] for sec in schema["sections"] for f in sec["fields"]},
        metric_name=(data or {}).get("name") if isinstance((data or {}).get("name"), str) else None,
        form=script_json(form),
    )


@router.get("/changes/new", response_class=HTMLResponse)
def propose_form(
    store: StoreDep,
    user: OptionalUser,
    csrf: CsrfToken,
    ref: Annotated[str | None, Query(max_length=300)] = None,
    action: Annotated[str, Query(pattern="^(update|create|deprecate)$")] = "update",
) -> HTMLResponse:
    data: dict[str, Any] = {}
    version, metric_ref = None, ""
    if ref:
        parsed = NodeRef.parse(ref)
        node = store.get_nodes([parsed]).get(parsed)
        if isinstance(node, Metric):
            data = node.props()
            version = data.get("version")
            metric_ref = str(parsed)
    return HTMLResponse(
        _propose_page(
            store,
            user,
            csrf,
            ref=metric_ref or ref or "",
            action=action,
            base_version=version,
            definition=_dump(data) if data else "",
            data=data,
            reason="",
            mode="form",
            issues=[],
        )
    )


@router.post("/changes", response_class=HTMLResponse)
def propose_submit(
    request: Request,
    store: StoreDep,
    user: Writer,
    csrf: CsrfToken,
    ref: Annotated[str, Form(max_length=300)],
    definition: Annotated[str, Form(max_length=200_000)],
    reason: Annotated[str, Form(min_length=1, max_length=4000)],
    action: Annotated[str, Form(pattern="^(update|create|deprecate)$")] = "update",
    base_version: Annotated[str | None, Form(max_length=50)] = None,
    mode: Annotated[str, Form(pattern="^(form|yaml)$")] = "yaml",
) -> Response:
    """Both views submit here: the form sends its mapping as JSON (which is YAML), the YAML
    view its text; either is validated once, by :meth:`Governance.submit`."""
    issues: list[Any] = []
    data: dict[str, Any] | None = None
    try:
        parsed = read_definition(definition)
        if not isinstance(parsed, dict):
            raise CatalogError([])
        data = parsed
        change = _gov(request).submit(
            user, Action(action), _metric_ref(ref), data, base_version or None, reason
        )
    except yaml.YAMLError as exc:
        issues = [_("definition: not valid YAML: {error}", error=str(exc))]
    except CatalogError as exc:
        issues = list(exc.issues) or [_("definition: expected a mapping of fields")]
    else:
        return RedirectResponse(f"/changes/{change.id}", status_code=303)
    text = _dump(data) if mode == "form" and data is not None else definition
    body = _propose_page(
        store,
        user,
        csrf,
        ref=ref,
        action=action,
        base_version=base_version,
        definition=text,
        data=data,
        reason=reason,
        mode=mode,
        issues=issues,
    )
    return HTMLResponse(body, status_code=422)


def read_definition(text: str) -> Any:
    """A definition as typed in the YAML view, read; refused (``CatalogError`` naming the
    field) when its YAML aliases (``*a``) stand for more than a definition may hold — before
    anything walks it: 2 KB of aliases can stand for millions of items, and the page shown
    again, the form's data and the name lookup would each walk them all."""
    try:
        parsed = yaml.safe_load(text) if text.strip() else {}
    except RecursionError:  # PyYAML recurses per level: thousands of '[' end it
        raise _too_deep() from None
    if definition_size(parsed, MAX_EXPANDED) > MAX_EXPANDED:
        message = _(
            "definition: holds over {limit} characters once YAML aliases (*name) are "
            "expanded; write each value out, and keep a definition short",
            limit=f"{MAX_EXPANDED:,}",
        )
        raise CatalogError([CatalogIssue(PROPOSAL_FILE, None, message)])
    check_nesting(parsed)  # after the size: a walk of bounded size
    return parsed


def check_nesting(data: Any) -> None:
    """Refuse (``CatalogError``) a definition nested deeper than a definition may be, before
    anything that recurses (the YAML dumper, the JSON encoder) walks it."""
    if nesting_depth(data, MAX_NESTING) > MAX_NESTING:
        raise _too_deep()


def _too_deep() -> CatalogError:
    message = _(
        "definition: nests lists and mappings deeper than {limit} levels; flatten it",
        limit=MAX_NESTING,
    )
    return CatalogError([CatalogIssue(PROPOSAL_FILE, None, message)])


def _metric_ref(text: str) -> NodeRef:
    """The form's metric: ``Metric:net_atp``, or only its id (``net_atp``) as a new metric's
    author types it."""
    text = text.strip()
    return NodeRef.parse(text if ":" in text else f"{NodeKind.METRIC.value}:{text}")


class YamlView(BaseModel):
    """One side of the form ↔ YAML view switch: a mapping to show as YAML, or YAML to read."""

    data: dict[str, Any] | None = None
    text: str | None = PydField(default=None, max_length=200_000)


@router.post("/changes/form/yaml")
def yaml_view(body: YamlView, store: StoreDep, user: Writer) -> JSONResponse:
    """The YAML view's text for the form's mapping (``data``), or the mapping for edited YAML
    (``text``; a YAML error is returned with its line). Converts only: nothing is validated
    or stored here — the submit validates. For those who may propose (editors and up)."""
    try:
        if body.data is not None:
            check_nesting(body.data)
            return JSONResponse({"text": _dump(body.data)})
        parsed = read_definition(body.text or "") or {}
    except yaml.YAMLError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    except CatalogError as exc:
        return JSONResponse({"error": str(exc.issues[0])}, status_code=422)
    if not isinstance(parsed, dict):
        return JSONResponse({"error": _("definition: expected a mapping of fields")}, 422)
    data = jsonable_encoder(parsed)
    return JSONResponse({"data": data, "names": change_form.ref_names(store, data)})


@router.get("/changes/{change_id}", response_class=HTMLResponse)
def change_page(
    change_id: Annotated[int, Path(ge=1, le=2**31)],
    request: Request,
    user: OptionalUser,
    csrf: CsrfToken,
    done: Annotated[str | None, Query(pattern="^(approve|reject|withdraw|apply)$")] = None,
) -> HTMLResponse:
    service = _gov(request)
    change = service.with_live_conflict(service.get(change_id))
    depts = [
        NodeRef(NodeKind.DEPARTMENT, s.department)
        for s in change.approvals_required
        if s.department
    ]
    dept_names = {  # approvals name departments by name (财务部), not by id
        ref.id: node.name for ref, node in service.store.get_nodes(depts).items()
    }
    stage = workflow.stage_for(user, change) if user else None
    settings = request.app.state.settings
    new_file = None  # a created metric: the file it will live in when written back
    if change.action is Action.CREATE and settings.catalog_dir is not None:
        from core.writeback import created_file  # None once the file exists (written back)

        new_file = created_file(settings.catalog_dir, {**change.definition, "id": change.metric_id})
    can = {
        "approve": stage is not None,
        "reject": bool(user and workflow.may_reject(user, change)),
        "withdraw": bool(user and workflow.may_withdraw(user, change)),
        "apply": bool(user and workflow.may_apply(user) and change.status is ChangeStatus.APPROVED),
    }
    impact = change.impact
    recomputed = [m for m in impact.get("metrics", []) if m.get("via") == "definition"]
    influenced = [m for m in impact.get("metrics", []) if m.get("via") != "definition"]
    comments = service.ledger.comments(change.metric_id) if change.metric_id else []
    ref_names = change_form.ref_names(  # 保险理赔代收金额, not only dms.dms_orders.…
        service.store, diff_references(change.diff)
    )
    return _page(
        "change.html",
        service.store,
        user,
        csrf,
        c=change,
        diff=[named(readable(d), ref_names) for d in change.diff],
        timeline=service.timeline(change_id),
        verbs={"approved": "approve"},  # the final approval reads 批准 → 已批准
        waiting=workflow.current_stages(change),
        can=can,
        stage=stage,
        recomputed=recomputed,
        influenced=influenced,
        dashboards=impact.get("dashboards", []),
        departments=impact.get("departments", []),
        comments=[comment_svc.public(c) for c in comments],
        dept_names=dept_names,
        new_file=new_file,
        done=done,
    )


@router.post("/changes/{change_id}/act")
def act(
    change_id: Annotated[int, Path(ge=1, le=2**31)],
    request: Request,
    user: Writer,
    action: Annotated[str, Form(pattern="^(approve|reject|withdraw|apply)$")],
    comment: Annotated[str | None, Form(max_length=4000)] = None,
) -> Response:
    service = _gov(request)
    if action == "approve":
        service.approve(user, change_id, comment or None)
    elif action == "reject":
        service.reject(user, change_id, comment or None)
    elif action == "withdraw":
        service.withdraw(user, change_id, comment or None)
    else:
        service.apply(user, change_id)
    # the page confirms what was done (?done=approve …)
    return RedirectResponse(f"/changes/{change_id}?done={action}", status_code=303)


@router.get("/metrics/{metric_id}/discussion", response_class=HTMLResponse)
def discussion(
    metric_id: Annotated[str, Path(max_length=200)],
    store: StoreDep,
    request: Request,
    user: OptionalUser,
    csrf: CsrfToken,
) -> HTMLResponse:
    ref = NodeRef(NodeKind.METRIC, metric_id)
    node = store.get_nodes([ref]).get(ref)
    ledger = request.app.state.ledger
    comments = [comment_svc.public(c) for c in ledger.comments(metric_id)]
    questions = [c for c in comments if c["parent"] is None]
    answers: dict[int, list[dict[str, Any]]] = {}
    for c in comments:
        if c["parent"] is not None:
            answers.setdefault(c["parent"], []).append(c)
    may_faq = bool(
        user
        and isinstance(node, Metric)
        and (
            user.role.value == "admin"
            or (user.role.value == "owner" and user.department in (node.owner, node.reviewer))
        )
    )
    return _page(
        "discussion.html",
        store,
        user,
        csrf,
        metric=node,
        metric_id=metric_id,
        questions=questions,
        answers=answers,
        faq=comment_svc.faq(ledger, metric_id),
        may_faq=may_faq,
        changes=ledger.changes(None, str(ref))[:20],
    )


@router.post("/metrics/{metric_id}/discussion")
def discuss(
    metric_id: Annotated[str, Path(max_length=200)],
    store: StoreDep,
    request: Request,
    user: Writer,
    body: Annotated[str, Form(min_length=1, max_length=comment_svc.MAX_BODY)],
    parent: Annotated[int | None, Form(ge=1, le=2**31)] = None,
    faq: Annotated[int | None, Form(ge=1, le=2**31)] = None,
    delete: Annotated[int | None, Form(ge=1, le=2**31)] = None,
) -> Response:
    ledger = request.app.state.ledger
    if delete is not None:
        comment_svc.delete(ledger, user, delete)  # the author, or an admin moderating
    elif faq is not None:
        comment_svc.mark_faq(store, ledger, user, faq, True)
    else:
        comment_svc.add(store, ledger, user, metric_id, body, parent)
        if parent is None:
            request.app.state.usage.hit(metric_id, "question")
    return RedirectResponse(f"/metrics/{metric_id}/discussion", status_code=303)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=60).strip()
    return str(value)


def _delta(old: Any, new: Any, prefix: str = "") -> list[str]:
    """What was added to or removed from lists, key by key (``+ excludes: 延保代收款``)."""
    out: list[str] = []
    if isinstance(old, dict | type(None)) and isinstance(new, dict | type(None)):
        if old is None and new is None:
            return out
        for key in sorted(set(old or {}) | set(new or {})):
            out += _delta((old or {}).get(key), (new or {}).get(key), f"{prefix}{key}: ")
        return out
    if isinstance(old, list | type(None)) and isinstance(new, list | type(None)):
        before, after = old or [], new or []
        out += [f"+ {prefix}{_text(x)}" for x in after if x not in before]
        out += [f"− {prefix}{_text(x)}" for x in before if x not in after]
        return out
    if old != new:
        out.append(f"~ {prefix}{_text(old)} → {_text(new)}")
    return out


def readable(entry: dict[str, Any]) -> dict[str, Any]:
    """A diff row as the committee reads it: both sides as YAML text, and for structured
    values the items added and removed.

    Examples
    --------
    >>> readable({"field": "caliber.numerator", "change_class": "major",
    ...           "old": {"excludes": ["a"]}, "new": {"excludes": ["a", "b"]}})["delta"]
    ['+ excludes: b']
    """
    old, new = entry.get("old"), entry.get("new")
    structured = isinstance(old, dict | list) or isinstance(new, dict | list)
    return {
        **entry,
        "old_text": _text(old),
        "new_text": _text(new),
        "delta": _delta(old, new) if structured else [],
    }


def diff_references(diff: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Every node id a diff's reference fields name, before and after, keyed by field (the
    shape :func:`viz.change_form.ref_names` reads)."""
    out: dict[str, list[Any]] = {}
    for entry in diff:
        if entry.get("field") in change_form.REFERENCE_KINDS:
            for side in (entry.get("old"), entry.get("new")):
                out.setdefault(entry["field"], []).extend(
                    side if isinstance(side, list) else [side]
                )
    return out


def named(entry: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A readable diff row of a reference field with each id also named: ``+ 保险理赔代收金额
    (dms.dms_orders.insurance_claim_amount)``, ``运营部 (ops) → 财务部 (finance)``.

    Examples
    --------
    >>> named(readable({"field": "owner", "old": "ops", "new": "finance"}),
    ...       {"Department:ops": "运营部"})["old_text"]
    '运营部 (ops)'
    >>> row = named(readable({"field": "fields", "old": ["a.b.c"], "new": ["a.b.c", "a.b.d"]}),
    ...             {"Field:a.b.d": "金额"})
    >>> row["delta"], row["new_text"].splitlines()
    (['+ 金额 (a.b.d)'], ['- a.b.c', '- 金额 (a.b.d)'])
    """
    kind = change_form.REFERENCE_KINDS.get(str(entry.get("field")))
    if kind is None:
        return entry

    def word(node_id: str) -> str:
        name = names.get(f"{kind.value}:{node_id}")
        return f"{name} ({node_id})" if name else node_id

    out = dict(entry)
    for side in ("old", "new"):
        value = entry.get(side)
        if isinstance(value, str):
            out[f"{side}_text"] = word(value)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out[f"{side}_text"] = "\n".join(f"- {word(v)}" for v in value)
    out["delta"] = [
        f"{d[:2]}{word(d[2:])}" if d[:2] in ("+ ", "− ") else d for d in entry.get("delta", [])
    ]
    return out
