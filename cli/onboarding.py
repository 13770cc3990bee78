"""``kpigraph onboarding`` and ``kpigraph quiz`` (seed 001 第五步 推广和培训): a department's
reading list, cards marked read, the team's progress, and a quiz from the definitions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import emit_json, json_option, out, safe, store_options
from cli.help_text import Command
from core.i18n import N_, _

if TYPE_CHECKING:
    from core.settings import Settings
    from store.base import GraphStore

#: message ids (shown through ``_`` in the language in use)
TEXT = {
    "list_title": N_("{name} · required reading for new staff ({n})"),
    "marked": N_("{user}: {n} card(s) marked read"),
    "all": N_("all"),
    "team_row": N_("{user}: read {read}/{of} · quiz {score} · {passed}"),
    "passed": N_("passed"),
    "not_passed": N_("not passed"),
    "answer": N_("  answer: {option}"),
}


@click.command(cls=Command)
@click.argument("department")
@click.option("--team", is_flag=True, help="who of the department has read and passed")
@click.option("--mark-read", "mark_user", default=None, help="mark METRICS read for this user")
@click.option("--metric", "metrics", multiple=True, help="with --mark-read: metric ids")
@store_options
@json_option
def onboarding(
    department: str,
    team: bool,
    mark_user: str | None,
    metrics: tuple[str, ...],
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """The reading list of DEPARTMENT (id or name): 20–30 metrics that matter to it, L0 first."""
    from analysis.onboarding import reading_list
    from governance import onboarding as svc
    from governance.department_usage import reads_of_department
    from store.ledger import ledger_for

    ledger = ledger_for(store)
    try:
        graph = store.catalog()
        first = reading_list(graph, department)
        reading = reading_list(graph, department, reads_of_department(ledger, first.department))
        if mark_user:
            svc.mark_read(ledger, mark_user, metrics or [i.id for i in reading.items])
            out().print(safe(_(TEXT["marked"], user=mark_user, n=len(metrics) or _(TEXT["all"]))))
            return
        if team:
            rows = svc.team(ledger, ledger.users(), reading)
            if as_json:
                emit_json([r.to_json() for r in rows])
                return
            for r in rows:
                score = f"{r.best_score}/{r.best_total}" if r.best_total else "—"
                passed = _(TEXT["passed"] if r.passed else TEXT["not_passed"])
                line = _(
                    TEXT["team_row"], user=r.user, read=r.read, of=r.of, score=score, passed=passed
                )
                out().print(safe(line))
            return
    finally:
        ledger.close()
    if as_json:
        emit_json(reading.to_json())
        return
    console = out()
    console.print(safe(_(TEXT["list_title"], name=reading.department_name, n=len(reading.items))))
    for i, item in enumerate(reading.items, 1):
        why = _(", ").join(item.why)
        named = _("{name} ({id})", name=item.name, id=item.id)
        console.print(safe(f"{i:>2}. {item.level or '—'}  {named}  {why}"))


@click.command(cls=Command)
@click.argument("department")
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(0, 2**31 - 1),
    help="which questions are drawn: the same seed asks the same quiz",
)
@click.option("--answers", "show_answers", is_flag=True, help="print the answer key too")
@store_options
@json_option
def quiz(
    department: str,
    seed: int,
    show_answers: bool,
    as_json: bool,
    store: GraphStore,
    settings: Settings,
) -> None:
    """A quiz on DEPARTMENT's reading list (the same seed, the same quiz)."""
    from analysis.onboarding import reading_list
    from analysis.quiz import make_quiz

    graph = store.catalog()
    reading = reading_list(graph, department)
    made = make_quiz(graph, [i.id for i in reading.items], seed, reading.department)
    if as_json:
        data = made.public()
        if show_answers:
            for q, item in zip(made.questions, data["questions"], strict=True):
                item["answer"] = q.answer
        emit_json(data)
        return
    console = out()
    for n, q in enumerate(made.questions, 1):
        console.print(safe(f"{n}. {q.prompt}"))
        for letter, option in zip("ABCD", q.options, strict=False):
            console.print(safe(f"   {letter}. {option}"))
        if show_answers:
            console.print(safe(_(TEXT["answer"], option="ABCD"[q.answer])))
