"""``--help`` in the language in use (#24): click's own words, each command's help and each
option's help go through the one message catalogue.

* click's own words ("Usage:", "Options:", "Show this message and exit.", "No such option …")
  are marked with the standard library's ``gettext`` inside click; :func:`speak_click` points
  click's ``_``/``ngettext`` at :mod:`core.i18n`, so they are looked up in kpigraph's catalogue
  (their ids are listed in :data:`CLICK_WORDS` for extraction).
* A command's help (its docstring or ``help=``) and each option's ``help=`` stay English in the
  code (the message ids) and are worded when help is shown: :class:`Command` and
  :class:`Group` translate them then. ``core/i18n_extract.py`` extracts them for ``pybabel``.
* The language is chosen before anything is parsed (:meth:`RootGroup.parse_args`): ``--lang``,
  else ``KPIGRAPH_LANG``, else the CLI's default (zh) — ``--help`` opens no store, so a
  catalog's own language is not known then.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from core.i18n import N_, _, gettext, ngettext

#: click's modules that word messages with ``from gettext import gettext as _``
_CLICK_MODULES = (
    "core",
    "decorators",
    "exceptions",
    "formatting",
    "parser",
    "types",
    "termui",
    "_termui_impl",
    "shell_completion",
)

#: the words of click (ids exactly as click 8 writes them: ``pybabel extract`` over click)
CLICK_WORDS = (
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("{prog}, version {version}"),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("No such option: {name}"),
    N_("No such command {name!r}."),
    N_("Missing command."),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing {param_type}"),
    N_("Missing parameter: {param_name}"),
    N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Argument {name!r} takes {nargs} values."),
    N_("Option {name!r} does not take a value."),
    N_("Value must be an iterable."),
    N_("Aborted!"),
    N_("unknown error"),
    N_("Could not open file {filename!r}: {message}"),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("required"),
    N_("(dynamic)"),
    N_("{text} {deprecated_message}"),
    N_("DeprecationWarning: The command {name!r} is deprecated.{extra_message}"),
    N_("DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}"),
    N_("Choose from:\n\t{choices}"),
    N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"),
    N_("{value!r} is not a valid UUID."),
    N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."),
    N_("{name} {filename!r} is not executable."),
    N_("Repeat for confirmation"),
    N_("Error: The value you entered was invalid."),
    N_("Error: {e.message}"),
    N_("Error: The two entered values do not match."),
    N_("Error: invalid input"),
    N_("Press any key to continue..."),
    N_("{editor}: Editing failed"),
    N_("{editor}: Editing failed: {e}"),
    N_("Shell completion is not supported for Bash versions older than 4.4."),
    N_("Couldn't detect Bash version, shell completion is not supported."),
)


def _click_plurals() -> None:  # pragma: no cover - never called: click's plural ids, for pybabel
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 1)
    ngettext(
        "Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given.", 1
    )
    ngettext("Did you mean {possibility}?", "(Possible options: {possibilities})", 1)
    ngettext(
        "Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", 1
    )
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 1)
    ngettext(
        "{value!r} does not match the format {format}.",
        "{value!r} does not match the formats {formats}.",
        1,
    )
    ngettext(
        "{len_type} values are required, but {len_value} was given.",
        "{len_type} values are required, but {len_value} were given.",
        1,
    )


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    return ngettext(singular, plural, n)


#: click's ``Path`` types name themselves when created (at import): their metavars (FILE,
#: DIRECTORY, PATH) are typed names, the same in every language
_TYPE_NAMES = frozenset({"file", "directory", "path"})
#: the same names in click's messages (``Path '/x' does not exist.``), worded when said
PATH_WORDS = (N_("File"), N_("Directory"), N_("Path"))


class TypeName(str):
    """The name a click ``Path`` type gives itself at import: itself in metavars (``PATH``,
    upper-cased), worded in the language in use when click's messages write it title-cased —
    ``路径 '/x' 不存在。``, not ``Path '/x' 不存在。`` (it was named before a language was
    chosen).

    >>> from core import i18n
    >>> name = TypeName("path")
    >>> with i18n.use("zh"):
    ...     name.upper(), name.title()
    ('PATH', '路径')
    """

    __slots__ = ()

    def title(self) -> str:
        return gettext(str(self).title())


def _click_types_gettext(message: str) -> str:
    return TypeName(message) if message in _TYPE_NAMES else gettext(message)


def speak_click() -> None:
    """Word click's own messages with kpigraph's catalogue, in the language in use (once per
    process; click imported ``gettext``'s functions by name, so its modules' names are set)."""
    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = _click_types_gettext if name == "types" else gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = _click_ngettext  # type: ignore[attr-defined]


def help_id(text: str | None) -> str:
    """The message id of a help text as written in the code (the docstring cleaned, up to a
    form feed): what ``core/i18n_extract.py`` extracts."""
    return inspect.cleandoc(text).partition("\f")[0] if text else ""


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def short_help(text: str, limit: int) -> str:
    """The first sentence of a (worded) help text within ``limit`` columns: click's way for
    English; a Chinese sentence ends at 。, has no spaces and its characters are two columns
    wide, so it is cut by width with an ellipsis.

    >>> short_help("创建用户并打印其 API 令牌——只显示一次；只保存其哈希值。第二句。", 30)
    '创建用户并打印其 API 令牌——只…'
    >>> short_help("列出所有用户。第二句。", 30)
    '列出所有用户。'
    """
    if not any(_width(c) == 2 for c in text):
        return click.utils.make_default_short_help(text, limit)
    first = text.split("\n\n", 1)[0].replace("\n", " ").strip()
    first = first.split("。", 1)[0] + ("。" if "。" in first else "")
    if _width(first) <= limit:
        return first
    cut = ""
    for c in first:
        if _width(cut + c) > limit - 1:
            break
        cut += c
    return cut.rstrip() + "…"


#: a run of ASCII that is not a space (a word, an option, a path) is never broken; any other
#: character is a place a line may break
_PIECE = re.compile(r"\s+|[!-~]+|.")
#: closing punctuation stays at the end of the line before it, opening at the start of the next
_CLOSING = frozenset("，。；：、）！？」』”’》】")
_OPENING = frozenset("（「『“‘《【")


def wrap(text: str, width: int, indent: str = "") -> str:
    """``text`` wrapped to ``width`` columns (click's wrapping when it holds no CJK; else by
    display width, a CJK character being two columns, breaking between characters but never
    inside an ASCII word or before closing punctuation), paragraphs kept.

    >>> print(wrap("用单独的文件（存储旁边的 kpigraph-demo.sqlite）提供售后演示；已加载的图谱"
    ...            "不受影响", 24))
    用单独的文件（存储旁边的
    kpigraph-demo.sqlite）提
    供售后演示；已加载的图谱
    不受影响
    """
    if not any(_width(c) == 2 for c in text):
        return click.formatting.wrap_text(
            text, width, initial_indent=indent, subsequent_indent=indent, preserve_paragraphs=True
        )
    room = max(width - len(indent), 10)
    paragraphs = []
    for paragraph in text.split("\n\n"):
        lines: list[str] = []
        line = ""
        for piece in _PIECE.findall(paragraph.replace("\n", " ")):
            if piece.isspace():
                line += " " if line else ""
            elif not line or _width(line + piece) <= room or piece in _CLOSING:
                line += piece
            else:
                carry = line[-1] if line[-1] in _OPENING else ""  # "（" opens the next line
                lines.append(line[: len(line) - len(carry)].rstrip())
                line = carry + piece
        lines.append(line.rstrip())
        paragraphs.append("\n".join(indent + x for x in lines))
    return "\n\n".join(paragraphs)


def term_len(text: str) -> int:
    """Columns ``text`` takes on a terminal (styles aside)."""
    return _width(click.unstyle(text))


class Formatter(click.HelpFormatter):
    """click's help layout, with CJK text wrapped by :func:`wrap`, and headings and the usage
    line punctuated the language's way (``用法：``, ``选项：``; click writes ``Usage: `` and
    ``Options:`` around the words)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, _("Usage: ") if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        said = _("{heading}:", heading=heading)
        self.write(" " * self.current_indent + said + "\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write(wrap(text, self.width, indent))
        self.write("\n")

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = list(rows)
        first_col = min(max((term_len(r[0]) for r in rows), default=0), col_max) + col_spacing
        margin = " " * (first_col + self.current_indent)
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if term_len(first) <= first_col - col_spacing:
                self.write(" " * (first_col - term_len(first)))
            else:
                self.write("\n" + margin)
            lines = wrap(second, max(self.width - first_col - 2, 10)).splitlines() or [""]
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write((margin + line if line else "") + "\n")


class Context(click.Context):
    formatter_class = Formatter


class Command(click.Command):
    """A command whose help, options' help and click's words are in the language in use."""

    context_class = Context

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:  # kept by click: an id, worded when shown
            option.help = N_("Show this message and exit.")
        return option

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        text = help_id(self.help)
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(_(text))

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help:
            return _(help_id(self.short_help))
        text = help_id(self.help)
        return short_help(_(text), limit) if text else ""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for param in self.get_params(ctx):
            worded = param
            help_text = getattr(param, "help", None)
            if help_text:
                worded = copy.copy(param)
                worded.help = _(help_id(help_text))  # type: ignore[attr-defined]
            record = worded.get_help_record(ctx)
            if record is not None:
                rows.append(record)
        if rows:
            with formatter.section(_("Options")):
                formatter.write_dl(rows)
        if isinstance(self, click.Group):
            self.format_commands(ctx, formatter)


class Group(Command, click.Group):
    """A group of :class:`Command` (its ``@group.command`` and ``@group.group`` too)."""

    command_class = Command
    group_class = type  # a subgroup is of this group's class

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        Command.format_options(self, ctx, formatter)


FC = TypeVar("FC", bound=Callable[..., Any])


def version_option(package_name: str) -> Callable[[FC], FC]:
    """``--version``, worded when shown (click's own words it at import time)."""

    def show(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if not value or ctx.resilient_parsing:
            return
        from importlib.metadata import version

        click.echo(
            _(
                "{prog}, version {version}",
                prog=ctx.find_root().info_name or package_name,
                version=version(package_name),
            )
        )
        ctx.exit()

    return click.option(
        "--version",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=show,
        help=N_("Show the version and exit."),
    )


def asked_language(args: list[str]) -> str | None:
    """``--lang X`` / ``--lang=X`` of the command line, else ``KPIGRAPH_LANG``."""
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return os.environ.get("KPIGRAPH_LANG") or None
