"""The propose page: a structured form and a YAML view of one metric's definition, submitted
as a change request; validation messages placed beside the fields they name, in the language
of the request."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from pydantic import Field as PydField

from api.auth import CsrfToken, OptionalUser, Writer
from api.dependencies import StoreDep, catalog_name
from api.routes.change_pages import STATUS_LABELS, governance_of
from core.i18n import _
from governance.proposal import proposal_file
from graph_schema.errors import CatalogError, CatalogIssue
from graph_schema.governance import Action, AlreadyProposedError, User
from graph_schema.ids import NodeKind, NodeRef
from graph_schema.limits import MAX_EXPANDED, MAX_NESTING, definition_size, nesting_depth
from graph_schema.models import Metric
from store.base import GraphStore
from viz import change_form
from viz.pages import render_page, script_json

router = APIRouter(include_in_schema=False)


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
    status = 422
    data: dict[str, Any] | None = None
    try:
        parsed = read_definition(definition)
        if not isinstance(parsed, dict):
            raise CatalogError([])
        data = parsed
        change = governance_of(request).submit(
            user, Action(action), _metric_ref(ref), data, base_version or None, reason
        )
    except yaml.YAMLError as exc:
        issues = [_("definition: not valid YAML: {error}", error=str(exc))]
    except CatalogError as exc:
        issues = list(exc.issues) or [_("definition: expected a mapping of fields")]
    except AlreadyProposedError as exc:  # the form sent twice, or by a second person
        issues, status = [exc.message], 409
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
    return HTMLResponse(body, status_code=status)


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
        raise CatalogError([CatalogIssue(proposal_file(), None, message)])
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
    return CatalogError([CatalogIssue(proposal_file(), None, message)])


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
