"""``kpigraph propose`` and ``kpigraph changes list|show|approve|reject|withdraw|apply``: change
requests through a running server (``--server URL --token TOKEN``, or ``KPIGRAPH_SERVER`` and
``KPIGRAPH_TOKEN``). Nothing here touches the store directly: the server checks roles."""

from __future__ import annotations

import contextvars
import functools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.common import emit_json, err, json_option, out, safe
from cli.help_text import Command, Group
from core import i18n
from core.i18n import N_, _

F = TypeVar("F", bound=Callable[..., Any])


class ServerError(click.ClickException):
    """The server answered with an error (its message is printed, escaped, in the language the
    server answered in)."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(_("server answered {status}: {text}", status=status, text=message))
        self.status = status
        self.code = code
        self.details = details or {}
        self.text = message
        self.language = i18n.current()

    def show(self, file: Any = None) -> None:
        with i18n.use(self.language):
            label = _("error:")
            err().print(_("{label} {text}", label=f"[red]{label}[/]", text=safe(self.message)))


class Client:
    """Calls the server's API. Unless ``--lang`` chose a language, the command speaks the one
    the server answers in (its ``Content-Language``: the served catalog's); with ``--lang``,
    the server is asked for that language (``Accept-Language``), its error messages too."""

    def __init__(self, server: str, token: str | None) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self._spoken: contextvars.Token[str | None] | None = None
        self._departments: dict[str, str] | None = None

    def _adopt(self, headers: Any) -> None:
        lang = i18n.normalize(headers.get("Content-Language") if headers is not None else None)
        if lang and self._spoken is None and i18n.chosen() is None:
            self._spoken = i18n.choose(lang)

    def forget(self) -> None:
        """Stop speaking the server's language (the command ended)."""
        if self._spoken is not None:
            i18n.unchoose(self._spoken)
            self._spoken = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        from core import i18n

        headers = {"Accept": "application/json"}
        asked = i18n.chosen()
        if asked:
            headers["Accept-Language"] = asked
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.server + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                self._adopt(response.headers)
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            self._adopt(exc.headers)
            code, details = None, None
            try:
                error = json.loads(exc.read())["error"]
                message = error["message"]
                code = str(error.get("code") or "") or None
                details = error.get("details") if isinstance(error.get("details"), dict) else None
            except (ValueError, KeyError, TypeError, AttributeError):
                message = exc.reason
            raise ServerError(exc.code, str(message), code, details) from exc
        except (urllib.error.URLError, OSError) as exc:
            from core.i18n import _

            raise click.ClickException(
                _(
                    "cannot reach the kpigraph server at {server}: {error}; start it with "
                    "'kpigraph serve' or pass --server",
                    server=self.server,
                    error=exc,
                )
            ) from exc

    def department_names(self) -> dict[str, str]:
        """Department id → name (财务部 for finance), asked of the server once; ids on failure."""
        if self._departments is None:
            try:
                items = self.call("GET", "/api/departments?limit=500")["items"]
                self._departments = {str(d["id"]): str(d["name"]) for d in items}
            except (click.ClickException, KeyError, TypeError):
                self._departments = {}
        return self._departments

    def department(self, department_id: str | None) -> str:
        if not department_id:
            return ""
        return self.department_names().get(department_id, department_id)


def server_options(func: F) -> F:
    @click.option(
        "--server",
        envvar="KPIGRAPH_SERVER",
        default="http://127.0.0.1:8000",
        show_default=True,
        help="the kpigraph server [env KPIGRAPH_SERVER]",
    )
    @click.option(
        "--token", envvar="KPIGRAPH_TOKEN", default=None, help="your API token [env KPIGRAPH_TOKEN]"
    )
    @functools.wraps(func)
    def wrapper(*args: Any, server: str, token: str | None, **kwargs: Any) -> Any:
        client = Client(server, token)
        try:
            return func(*args, client=client, **kwargs)
        except BaseException as exc:
            i18n.remember_language(exc)  # reported in the language the server spoke
            raise
        finally:
            client.forget()

    return wrapper  # type: ignore[return-value]


STRIP = ("kind", "ref", "version", "history")


def _metrics_in(path: Path) -> list[dict[str, Any]]:
    """The metric definitions in a YAML file (one metric or a ``metrics:`` list) or, for a
    directory, in the catalog (validated as ``kpigraph validate`` does)."""
    if path.is_dir():
        from graph_schema.models import Metric
        from loaders.catalog import load_catalog

        graph = load_catalog(path)
        return [n.props() for n in graph.nodes if isinstance(n, Metric)]
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    except RecursionError:
        from core.i18n import _

        raise click.ClickException(_("{path}: nested too deeply", path=path)) from None
    if isinstance(data, dict) and "metrics" in data and "id" not in data:
        data = data["metrics"]
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items):
        from core.i18n import _

        raise click.ClickException(
            _("{path}: expected a metric mapping with an 'id', or a list", path=path)
        )
    return items


def _comparable(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in STRIP and v not in (None, [], {})}


@click.command("propose", cls=Command)
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--reason", "-m", required=True, help="why (shown to every reviewer)")
@click.option("--deprecate", is_flag=True, help="propose deprecating the metric(s) instead")
@server_options
@json_option
def propose(source: Path, reason: str, deprecate: bool, as_json: bool, client: Client) -> None:
    """Propose changes: SOURCE is a metric YAML file, or a catalog directory (one request per
    metric that differs from the server's). A metric an open request already proposes
    exactly so (same version, same definition, from anyone) gets no second request: its
    number is printed instead."""
    made: list[Any] = []
    already: list[dict[str, Any]] = []
    for metric in _metrics_in(source):
        mid = metric["id"]
        try:
            current = client.call("GET", f"/api/metrics/{urllib.parse.quote(mid)}")["metric"]
        except ServerError as exc:
            if exc.status != 404:
                raise
            current = None
        if deprecate:
            action = "deprecate"
        elif current is None:
            action = "create"
        elif _comparable(current) == _comparable(metric):
            continue
        else:
            action = "update"
        body = {
            "action": action,
            "ref": f"Metric:{mid}",
            "base_version": _base_version(metric, current),
            "definition": {k: v for k, v in metric.items() if k not in STRIP}
            if action != "deprecate"
            else {},
            "reason": reason,
        }
        try:
            made.append(client.call("POST", "/api/changes", body))
        except ServerError as exc:
            if exc.code != "already_proposed":
                raise
            # an open request asks exactly this already: named, not made twice
            already.append({**exc.details, "already_proposed": True, "message": exc.text})
    if as_json:
        emit_json([*made, *already])
        return
    for a in already:
        out().print(f"{safe(str(a.get('ref', '')))}: {safe(a['message'])}")
    if not made and not already:
        out().print(_("nothing differs from the server's definitions; no request made"))
    for c in made:
        waiting = _waiting(c, client)
        line = _(
            "{action} {cls} → {version}; waiting for {who}",
            action=_(c["action"]),
            cls=_class(c["change_class"]),
            version=safe(c["new_version"]),
            who=waiting,
        )
        out().print(f"#{c['id']} {safe(c['ref'])}: {line}")


def _base_version(metric: dict[str, Any], current: dict[str, Any] | None) -> str | None:
    """The version the proposal starts from: the store's, unless the file's own ``version``
    is older — a file behind the store (a change request applied and not pulled) is then
    refused by the server instead of silently undoing that change. A file ahead of the store
    declares the new version it wants.

    Examples
    --------
    >>> _base_version({"version": "1.1.0"}, {"version": "2.0.0"})
    '1.1.0'
    >>> _base_version({"version": "2.1.0"}, {"version": "2.0.0"})
    '2.0.0'
    >>> _base_version({}, {"version": "2.0.0"})
    '2.0.0'
    """
    from graph_schema.semver import compare, is_semver

    stored = (current or {}).get("version")
    declared = metric.get("version")
    if (
        isinstance(declared, str)
        and isinstance(stored, str)
        and is_semver(declared)
        and is_semver(stored)
        and compare(declared, stored) < 0
    ):
        return declared
    return stored


@click.group("changes", cls=Group)
def changes_group() -> None:
    """Change requests on a server: list, show, approve, reject, withdraw, apply."""


@changes_group.command("list")
@click.option(
    "--status",
    default=None,
    type=click.Choice(
        ["submitted", "owner_approved", "approved", "applied", "rejected", "withdrawn"]
    ),
    help="only requests in this state",
)
@click.option("--ref", default=None, help="only requests of this node (e.g. Metric:atp)")
@server_options
@json_option
def list_changes(status: str | None, ref: str | None, as_json: bool, client: Client) -> None:
    """Change requests, newest first."""
    from rich.table import Table

    query = urllib.parse.urlencode({k: v for k, v in (("status", status), ("ref", ref)) if v})
    data = client.call("GET", "/api/changes" + (f"?{query}" if query else ""))
    if as_json:
        emit_json(data)
        return
    table = Table(
        "#", _("Metric"), _("Status"), _("Change class"), _("Version"), _("Requester"), _("Reason")
    )
    for c in data["items"]:
        table.add_row(
            str(c["id"]),
            safe(c["ref"]),
            _(c["status"]),
            _class(c["change_class"]),
            f"{safe(c['base_version'] or '—')} → {safe(c['new_version'])}",
            safe(c["requester"]),
            safe(c["reason"][:60]),
        )
    out().print(table)


@changes_group.command("show")
@click.argument("change_id", type=click.IntRange(1))
@server_options
@json_option
def show(change_id: int, as_json: bool, client: Client) -> None:
    """One request: diff, impact, approvals and timeline."""
    c = client.call("GET", f"/api/changes/{change_id}")
    if as_json:
        emit_json(c)
        return
    _print_change(c, client)


def _waiting(c: dict[str, Any], client: Client) -> str:
    """Whose approval a request waits for, as the change page names them (财务部, 委员会)."""
    return _(", ").join(
        safe(client.department(s.get("department")) or _("the committee")) for s in c["waiting_for"]
    ) or _("nobody")


def _stage(stage: str) -> str:
    """An approval stage as the change page names it (负责人初审 / 委员会终审)."""
    return _("owner review") if stage == "owner" else _("committee review")


def _print_change(c: dict[str, Any], client: Client) -> None:
    o = out()
    o.print(
        f"[bold]#{c['id']} {safe(c['ref'])}[/] — {_(c['status'])}"
        + (" [red]" + _("(conflict)") + "[/]" if c.get("conflict") else "")
    )
    by = _(
        "{action} {cls}: {base} → {version}; by {who}: {reason}",
        action=_(c["action"]),
        cls=_class(c["change_class"]),
        base=safe(c["base_version"] or "—"),
        version=safe(c["new_version"]),
        who=safe(c["requester"]),
        reason=safe(c["reason"]),
    )
    o.print(by)
    if c.get("conflict"):
        o.print("[red]" + _("Conflict:") + f"[/] {safe(c['conflict'])}")
    for d in c["diff"]:  # as `kpigraph history` renders a field's change
        old, new = d["old"], d["new"]
        if d["field"] in ("owner", "reviewers"):  # departments by name
            old, new = _department_words(old, client), _department_words(new, client)
        cls = _class(d.get("change_class"), "")
        field = safe(d["field"])
        label = _("{field} ({cls})", field=field, cls=cls) if cls else field
        o.print("  " + label + _(": ") + safe(_change_words(old, new)))
    impact = c["impact"]
    recomputed = [m["name"] for m in impact.get("metrics", []) if m.get("via") == "definition"]
    influenced = [m["name"] for m in impact.get("metrics", []) if m.get("via") != "definition"]
    o.print(_("recomputed: {names}", names=safe(_(", ").join(recomputed) or "—")))
    o.print(_("read differently: {names}", names=safe(_(", ").join(influenced) or "—")))
    for s in c["approvals_required"]:
        done = next(
            (
                a
                for a in c["approvals"]
                if a["stage"] == s["stage"] and a.get("department") == s.get("department")
            ),
            None,
        )
        who = f"✔ {safe(done['by'])}" if done else _("waiting")
        stage = " ".join(
            x for x in (_stage(s["stage"]), safe(client.department(s.get("department")))) if x
        )
        o.print("  " + stage + _(": ") + who)
    for e in c.get("timeline", []):  # 提交 → 已提交 (the words of the CLI's language)
        verb = "approve" if e["event"] == "approved" else e["event"]  # the final approval
        event = _(verb)
        status = _(e["to_status"])
        comment = _(": ") + safe(e["comment"]) if e.get("comment") else ""
        o.print(f"  {e['at'][:19]} {safe(e['actor'])} {event} → {status}{comment}")
    if c.get("applied_revision"):
        o.print(_("published as revision {number}", number=c["applied_revision"]))


def _change_words(old: Any, new: Any) -> str:
    """A field's change in words: for a mapping (a caliber part), only the keys that changed,
    each named (``Excludes: +延保代收款``); else as ``kpigraph history`` writes it."""
    from analysis.compare import KEY_WORDS, change_text

    if isinstance(old, dict) and isinstance(new, dict):
        keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
        return _("; ").join(
            (_(KEY_WORDS[k]) if k in KEY_WORDS else str(k))
            + _(": ")
            + change_text(old.get(k), new.get(k))
            for k in keys
        )
    return change_text(old, new)


def _department_words(value: Any, client: Client) -> Any:
    if isinstance(value, str):
        return client.department(value)
    if isinstance(value, list):
        return [client.department(v) if isinstance(v, str) else v for v in value]
    return value


def _class(value: str | None, none: str | None = None) -> str:
    """A change class in words (重大变更 / major change); a new metric's request has none."""
    from viz.labels import change_class_word

    if not value:
        return _("new") if none is None else none
    return change_class_word(value)


#: the help of each action on a change request (message ids)
_ACT_HELP = {
    "approve": N_("Approve change request CHANGE_ID."),
    "reject": N_("Reject change request CHANGE_ID."),
    "withdraw": N_("Withdraw change request CHANGE_ID."),
    "apply": N_("Apply change request CHANGE_ID."),
}


def _act(name: str, with_comment: bool = True) -> click.Command:
    @click.argument("change_id", type=click.IntRange(1))
    @server_options
    @json_option
    def command(change_id: int, as_json: bool, client: Client, comment: str | None = None) -> None:
        body = {"comment": comment} if with_comment else None
        c = client.call("POST", f"/api/changes/{change_id}/{name}", body)
        if as_json:
            emit_json(c)
        else:
            _print_change(c, client)

    if with_comment:
        command = click.option(
            "--comment", "-m", default=None, help="a comment kept with the decision"
        )(command)
    return changes_group.command(name, help=_ACT_HELP[name])(command)


approve = _act("approve")
reject = _act("reject")
withdraw = _act("withdraw")
apply = _act("apply", with_comment=False)
