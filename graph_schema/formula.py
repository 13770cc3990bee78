"""A small, safe parser for metric formulas and driver identities.

Grammar (no ``eval``; precedence as in arithmetic)::

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/') unary)*
    unary  := ('+' | '-') unary | atom
    atom   := NUMBER | NAME | '(' expr ')'

``NAME`` is any word (letters of any script, digits, ``_``) not starting with a digit, so that
a Chinese metric name is parsed and then reported as an unknown id with a suggestion rather
than as a bare syntax error. The result is an immutable tree that can be evaluated and that
tells each referenced metric's role.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.i18n import N_
from graph_schema.errors import FormulaSyntaxError

MAX_FORMULA_LENGTH = 2000
MAX_NESTING = 64


class Role(StrEnum):
    """How an input takes part in a formula, decided by the outermost operator above it."""

    NUMERATOR = "numerator"
    DENOMINATOR = "denominator"
    FACTOR = "factor"
    TERM = "term"
    ARGUMENT = "argument"


@dataclass(frozen=True)
class Num:
    value: float
    column: int


@dataclass(frozen=True)
class Ref:
    name: str
    column: int


@dataclass(frozen=True)
class Neg:
    operand: Expr
    column: int


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * /
    left: Expr
    right: Expr
    column: int


Expr = Num | Ref | Neg | BinOp


@dataclass(frozen=True)
class Formula:
    """A parsed expression.

    Examples
    --------
    >>> f = parse_formula("revenue / visits")
    >>> f.inputs()
    [('revenue', <Role.NUMERATOR: 'numerator'>), ('visits', <Role.DENOMINATOR: 'denominator'>)]
    >>> f.evaluate({"revenue": 1_500_000, "visits": 1200})
    1250.0
    >>> parse_formula("gross_profit - operating_cost").inputs()[1]
    ('operating_cost', <Role.TERM: 'term'>)
    """

    text: str
    root: Expr

    def references(self) -> list[Ref]:
        """Every name occurrence, left to right."""
        out: list[Ref] = []
        _walk_refs(self.root, out)
        return out

    def inputs(self) -> list[tuple[str, Role]]:
        """Distinct referenced names in order of first appearance, each with its role."""
        seen: dict[str, Role] = {}
        _collect_roles(self.root, None, seen)
        return list(seen.items())

    def with_names(self, names: Mapping[str, str]) -> str:
        """The formula as people read it: each metric id replaced by its name where
        ``names`` knows it (ids it does not know stay).

        >>> parse_formula("revenue / visits").with_names({"revenue": "营收", "visits": "进厂台次"})
        '营收 / 进厂台次'
        >>> parse_formula("(a + b) * a").with_names({"a": "A"})
        '(A + b) * A'
        """
        text = self.text
        for ref in sorted(self.references(), key=lambda r: r.column, reverse=True):
            start = ref.column - 1  # right to left, so the columns stay valid
            text = text[:start] + names.get(ref.name, ref.name) + text[start + len(ref.name) :]
        return text

    def evaluate(self, values: Mapping[str, float]) -> float:
        """Compute the value given each input's value. Division by zero gives ``nan``."""
        return _eval(self.root, values)


def _walk_refs(node: Expr, out: list[Ref]) -> None:
    if isinstance(node, Ref):
        out.append(node)
    elif isinstance(node, Neg):
        _walk_refs(node.operand, out)
    elif isinstance(node, BinOp):
        _walk_refs(node.left, out)
        _walk_refs(node.right, out)


def _collect_roles(node: Expr, role: Role | None, seen: dict[str, Role]) -> None:
    if isinstance(node, Ref):
        seen.setdefault(node.name, role or Role.ARGUMENT)
    elif isinstance(node, Neg):
        _collect_roles(node.operand, role, seen)
    elif isinstance(node, BinOp):
        if role is None:
            if node.op == "/":
                _collect_roles(node.left, Role.NUMERATOR, seen)
                _collect_roles(node.right, Role.DENOMINATOR, seen)
                return
            role = Role.FACTOR if node.op == "*" else Role.TERM
        _collect_roles(node.left, role, seen)
        _collect_roles(node.right, role, seen)


def _eval(node: Expr, values: Mapping[str, float]) -> float:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        return float(values[node.name])
    if isinstance(node, Neg):
        return -_eval(node.operand, values)
    left, right = _eval(node.left, values), _eval(node.right, values)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    return left / right if right != 0 else math.nan


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "op", "lpar", "rpar", "end"
    text: str
    column: int  # 1-based


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch in "+-*/":
            tokens.append(_Token("op", ch, col))
            i += 1
        elif ch == "(":
            tokens.append(_Token("lpar", ch, col))
            i += 1
        elif ch == ")":
            tokens.append(_Token("rpar", ch, col))
            i += 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isdigit() or text[j] in "._"):
                j += 1
            raw = text[i:j].replace("_", "")
            if raw.count(".") > 1:
                raise FormulaSyntaxError(
                    N_("malformed number {number}"), text, col, number=repr(text[i:j])
                )
            if j < n and (text[j].isalpha() or text[j] == "_"):
                raise FormulaSyntaxError(N_("a name cannot start with a digit"), text, col)
            tokens.append(_Token("num", raw, col))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(_Token("name", text[i:j], col))
            i = j
        else:
            message = N_("unexpected character {char}")
            if ch in "×x·＊":
                message = N_("unexpected character {char} (use '*' for multiplication)")
            elif ch in "÷／":
                message = N_("unexpected character {char} (use '/' for division)")
            elif ch in "（）":
                message = N_("unexpected character {char} (use ASCII parentheses)")
            elif ch in "＋":
                message = N_("unexpected character {char} (use ASCII +; this one is full-width)")
            elif ch in "－":
                message = N_("unexpected character {char} (use ASCII -; this one is full-width)")
            elif ch in "，、":
                message = N_(
                    "unexpected character {char} (use an ASCII ',' between function arguments)"
                )
            elif ch in "．":
                message = N_("unexpected character {char} (use an ASCII '.' in numbers)")
            raise FormulaSyntaxError(message, text, col, char=repr(ch))
    tokens.append(_Token("end", "", n + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def fail(self, message: str, tok: _Token, **values: object) -> FormulaSyntaxError:
        return FormulaSyntaxError(message, self.text, tok.column, **values)

    def parse(self) -> Expr:
        if self.peek().kind == "end":
            raise self.fail(N_("empty expression"), self.peek())
        node = self.expr()
        tok = self.peek()
        if tok.kind == "rpar":
            raise self.fail(N_("unmatched ')'"), tok)
        if tok.kind != "end":
            raise self.fail(N_("expected an operator before {token}"), tok, token=repr(tok.text))
        return node

    def expr(self) -> Expr:
        node = self.term()
        while self.peek().kind == "op" and self.peek().text in "+-":
            op = self.take()
            node = BinOp(op.text, node, self.term(), op.column)
        return node

    def term(self) -> Expr:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in "*/":
            op = self.take()
            node = BinOp(op.text, node, self.unary(), op.column)
        return node

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "op" and tok.text in "+-":
            self.take()
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.fail(N_("expression nested too deeply"), tok)
            operand = self.unary()
            self.depth -= 1
            return Neg(operand, tok.column) if tok.text == "-" else operand
        return self.atom()

    def atom(self) -> Expr:
        tok = self.take()
        if tok.kind == "num":
            return Num(float(tok.text), tok.column)
        if tok.kind == "name":
            return Ref(tok.text, tok.column)
        if tok.kind == "lpar":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.fail(N_("expression nested too deeply"), tok)
            node = self.expr()
            close = self.take()
            if close.kind != "rpar":
                raise FormulaSyntaxError(N_("missing ')'"), self.text, close.column)
            self.depth -= 1
            return node
        if tok.kind == "end":
            raise self.fail(N_("expression ends where an operand was expected"), tok)
        raise self.fail(
            N_("expected a metric id, a number or '(' but found {token}"), tok, token=repr(tok.text)
        )


def names_in(formulas: Iterable[str | None]) -> set[str]:
    """Every name the ``formulas`` use (one that does not parse names none): what to look up
    to show them with names.

    >>> sorted(names_in(["revenue / visits", None, "revenue *", "a + a"]))
    ['a', 'revenue', 'visits']
    """
    found: set[str] = set()
    for text in formulas:
        if text:
            with contextlib.suppress(FormulaSyntaxError):
                found.update(r.name for r in parse_formula(text).references())
    return found


def parse_formula(text: str) -> Formula:
    """Parse a formula or drivers expression.

    Raises
    ------
    FormulaSyntaxError
        With the 1-based column of the problem.

    Examples
    --------
    >>> parse_formula("revenue / (visits")
    Traceback (most recent call last):
    ...
    graph_schema.errors.FormulaSyntaxError: missing ')' at column 18
        revenue / (visits
                         ^
    """
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaSyntaxError(
            N_("expression longer than {n} characters"), text[:40], 1, n=MAX_FORMULA_LENGTH
        )
    return Formula(text, _Parser(text).parse())
