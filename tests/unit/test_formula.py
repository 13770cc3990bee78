from __future__ import annotations

import math

import pytest

from graph_schema.errors import FormulaSyntaxError
from graph_schema.formula import MAX_NESTING, Role, parse_formula


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("revenue / visits", [("revenue", Role.NUMERATOR), ("visits", Role.DENOMINATOR)]),
        ("visits * atp", [("visits", Role.FACTOR), ("atp", Role.FACTOR)]),
        (
            "gross_profit - operating_cost",
            [("gross_profit", Role.TERM), ("operating_cost", Role.TERM)],
        ),
        ("a * b / c", [("a", Role.NUMERATOR), ("b", Role.NUMERATOR), ("c", Role.DENOMINATOR)]),
        (
            "(a - b) / (a + c)",
            [("a", Role.NUMERATOR), ("b", Role.NUMERATOR), ("c", Role.DENOMINATOR)],
        ),
        ("a", [("a", Role.ARGUMENT)]),
        ("-a + 2 * b", [("a", Role.TERM), ("b", Role.TERM)]),
        ("1 - parts_cost_rate", [("parts_cost_rate", Role.TERM)]),
    ],
)
def test_roles(text: str, expected: list[tuple[str, Role]]) -> None:
    assert parse_formula(text).inputs() == expected


def test_evaluate_follows_precedence() -> None:
    f = parse_formula("a + b * c - (d - e) / 2")
    assert f.evaluate({"a": 1, "b": 2, "c": 3, "d": 10, "e": 4}) == 1 + 6 - 3
    assert parse_formula("-a * -b").evaluate({"a": 2, "b": 3}) == 6
    assert math.isnan(parse_formula("a / b").evaluate({"a": 1, "b": 0}))
    assert parse_formula("1_000 * .5").evaluate({}) == 500


def test_unicode_names_parse_so_the_loader_can_suggest_ids() -> None:
    assert [r.name for r in parse_formula("营收 / 进厂台次").references()] == ["营收", "进厂台次"]


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("revenue / (visits", 18, "missing ')'"),
        ("revenue / visits)", 17, "unmatched ')'"),
        ("revenue //visits", 10, "expected a metric id"),
        ("revenue visits", 9, "expected an operator"),
        ("revenue / ", 11, "ends where an operand"),
        ("", 1, "empty expression"),
        ("revenue × visits", 9, "use '*'"),
        ("a + 1.2.3", 5, "malformed number"),
        ("a + 2b", 5, "cannot start with a digit"),
        ("__import__('os')", 12, "unexpected character"),
        ("a; DROP", 2, "unexpected character"),
    ],
)
def test_syntax_errors_point_at_the_column(text: str, column: int, reason: str) -> None:
    with pytest.raises(FormulaSyntaxError) as info:
        parse_formula(text)
    assert info.value.column == column
    assert reason in info.value.reason
    assert "^" in str(info.value)


def test_nesting_and_length_are_bounded() -> None:
    with pytest.raises(FormulaSyntaxError, match="nested too deeply"):
        parse_formula("(" * (MAX_NESTING + 5) + "a" + ")" * (MAX_NESTING + 5))
    with pytest.raises(FormulaSyntaxError, match="longer than"):
        parse_formula("a + " * 1000 + "a")
