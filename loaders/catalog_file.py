"""Reading one catalog file: its size, its encoding and its YAML, each problem reported at
its line with what to do. :mod:`loaders.catalog` assembles the catalog from such files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

import yaml

from core.i18n import N_, _
from loaders.yaml_lines import load_yaml

#: catalog files are small: a bigger one is a mistake (or an attack), refused before reading
MAX_FILE_BYTES = 8 * 1024 * 1024


class IssueFn(Protocol):
    """Where a problem goes: ``issue(file, line, message, hint)``."""

    def __call__(
        self, file: str, line: int | None, message: str, hint: str | None = None
    ) -> None: ...


def manifest_language(directory: Path) -> str | None:
    """The ``language`` the catalog in ``directory`` says it is in (its ``kpigraph.yaml``), if
    it says: what its problems, and the commands reading it, are worded in."""
    try:
        text = (directory / "kpigraph.yaml").read_text(encoding="utf-8")[:65_536]
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        # the loader reports the file (a deep one: "nested deeper than …" with its line);
        # here only the language is guessed
        return None
    lang = data.get("language") if isinstance(data, dict) else None
    return lang if isinstance(lang, str) else None


def read_catalog_file(path: Path, rel: str, issue: IssueFn) -> Any | None:
    """The YAML of one catalog file (mappings and lists that remember their lines), or
    ``None`` with the problem reported through ``issue(file, line, message, hint)``: too
    large, binary, not UTF-8 (the offending byte's line), broken YAML (its line, and a hint
    for the usual slips: tabs, a key indented too far, an unquoted ': ')."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        issue(rel, None, _("cannot read file: {reason}", reason=exc.strerror))
        return None
    if size > MAX_FILE_BYTES:
        issue(
            rel,
            None,
            _(
                "file is {size} MiB; catalog files are limited to {limit} MiB",
                size=round(size / 1_048_576, 1),
                limit=MAX_FILE_BYTES // 1_048_576,
            ),
            _("split it: metrics into several files under metrics/, systems into sources/*.yaml"),
        )
        return None
    data = path.read_bytes()
    if b"\x00" in data:
        issue(
            rel, None, _("file is binary, not YAML text"), _("remove it or save it as UTF-8 YAML")
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        issue(
            rel,
            line,
            _(
                "file is not UTF-8 (byte {byte} at offset {offset})",
                byte=hex(data[exc.start]),
                offset=exc.start,
            ),
            _("save the file as UTF-8 (e.g. iconv -f GBK -t UTF-8)"),
        )
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        at = mark.line + 1 if mark else None
        hint = _indent_hint(text, at) if "mapping values" in problem else None
        issue(
            rel,
            at,
            _("broken YAML: {problem}", problem=yaml_problem(problem)),
            hint or _yaml_hint(problem),
        )
        return None
    except yaml.YAMLError as exc:
        issue(rel, None, _("broken YAML: {problem}", problem=exc))
        return None
    except RecursionError:
        issue(rel, None, _("broken YAML: {problem}", problem=_("nested too deeply")))
        return None


#: what the YAML parser says (English), in words of the catalogue: pattern → message id
YAML_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"the key (?P<key>.+) appears twice \(first on line (?P<line>\d+)\)"),
        N_("the key {key} appears twice (first on line {line})"),
    ),
    (re.compile(r"nested deeper than (?P<n>\d+) levels"), N_("nested deeper than {n} levels")),
    (
        re.compile(r"mapping values are not allowed (?:here|in this context)"),
        N_("a ': ' where no key may start"),
    ),
    (
        re.compile(r"found a tab character (?:that violates|where an) indentation"),
        N_("a tab character where indentation is expected"),
    ),
    (
        re.compile(r"found character '\\t' that cannot start any token"),
        N_("a tab character where indentation is expected"),
    ),
    (re.compile(r"could not find expected ':'"), N_("a key without ':' after it")),
    (re.compile(r"did not find expected key"), N_("a line that is not a key at this indentation")),
    (
        re.compile(r"did not find expected '-' indicator"),
        N_("a line that is not a list item ('- ') at this indentation"),
    ),
    (re.compile(r"found undefined alias (?P<name>.+)"), N_("the alias {name} is not defined")),
    (
        re.compile(r"found unexpected end of stream"),
        N_("the file ends too early (a quote or a bracket not closed?)"),
    ),
    (
        re.compile(r"expected <block end>, but found .*"),
        N_("the indentation does not line up with the lines above"),
    ),
)


def yaml_problem(problem: str) -> str:
    """The YAML parser's ``problem`` in the language in use (as it is, when not one of the
    usual slips).

    >>> from core.i18n import use
    >>> with use("zh"):
    ...     yaml_problem("the key 'unit' appears twice (first on line 3)")
    "键 'unit' 出现了两次（第一次在第 3 行）"
    """
    for pattern, message in YAML_PROBLEMS:
        found = pattern.search(problem)
        if found:
            return _(message, **found.groupdict()) if found.groupdict() else _(message)
    return problem


_KEY_LINE = re.compile(r"^( *)(?:- +)?([A-Za-z_][A-Za-z0-9_]*) *:(?: |$)")


def _indent_hint(text: str, line: int | None) -> str | None:
    """A hint when "mapping values are not allowed" comes from a key indented deeper than the
    key above it (a wrongly indented key), not from a value containing ': '.

    Examples
    --------
    >>> from core.i18n import use
    >>> with use("en"):
    ...     _indent_hint("id: atp\\nname: 客单价\\n  definition: 平均金额\\n", 3)
    "line 3: key 'definition' is indented 2 more spaces than 'name' above it; keys of one mapping must line up (remove the extra indentation)"
    >>> _indent_hint("id: atp\\nname: a: b\\n", 2) is None
    True
    """  # noqa: E501
    if line is None:
        return None
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    here = _KEY_LINE.match(lines[line - 1])
    if here is None:
        return None
    for prev in reversed(lines[: line - 1]):
        if not prev.strip() or prev.lstrip().startswith("#"):
            continue
        above = _KEY_LINE.match(prev)
        if above is None or prev.rstrip().endswith(":"):
            return None  # the line above opens a nested block or is not a key: no verdict
        extra = len(here.group(1)) - len(above.group(1))
        if extra <= 0:
            return None
        return _(
            "line {line}: key {key} is indented {extra} more spaces than {above} above it; "
            "keys of one mapping must line up (remove the extra indentation)",
            line=line,
            key=repr(here.group(2)),
            extra=extra,
            above=repr(above.group(2)),
        )
    return None


def _yaml_hint(problem: str) -> str:
    if "\\t" in problem or "tab" in problem:
        return _("indent with spaces, not tabs")
    if "appears twice" in problem:
        return _("remove one of the two keys")
    if "mapping values" in problem:
        return _("quote values that contain ': ' (e.g. \"a: b\")")
    return _("check indentation and quoting near this line")
