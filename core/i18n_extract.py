"""A ``pybabel`` extraction method for the command line: Python's messages plus the help of
every click command and option, which stay English in the code and are worded when ``--help``
is shown (``cli/help_text.py``).

``core/locale/babel.cfg`` names it for ``cli/**.py``; what it yields beyond Babel's own
``python`` method:

* the docstring of a function decorated with ``…command(…)`` / ``…group(…)`` (when the
  decorator gives no ``help=``), cleaned as click cleans it and cut at a form feed;
* the ``help=`` / ``short_help=`` string of a call to ``…option``, ``…argument``,
  ``…command``, ``…group`` (click's decorators and kpigraph's own).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages.extract import extract_python

#: the calls whose ``help=`` is a command's or an option's help
CLICK_CALLS = frozenset({"option", "argument", "command", "group", "Option", "Command"})
#: decorators that make a command of a function (its docstring is its help)
COMMAND_DECORATORS = frozenset({"command", "group"})


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _clean(text: str) -> str:
    return inspect.cleandoc(text).partition("\f")[0]


def click_help(source: str) -> Iterator[tuple[int, str]]:
    """``(line, message id)`` of every command and option help in ``source``.

    >>> src = '''
    ... @click.command("x", short_help="Short.")
    ... @click.option("--a", help="an option")
    ... def x() -> None:
    ...     \"\"\"Do x.
    ...
    ...     More.\\f internal\"\"\"
    ... '''
    >>> sorted(m for _line, m in click_help(src))
    ['Do x.\\n\\nMore.', 'Short.', 'an option']
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in CLICK_CALLS:
            for keyword in node.keywords:
                value = keyword.value
                if (
                    keyword.arg in ("help", "short_help")
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                    and value.value.strip()
                ):
                    yield value.lineno, _clean(value.value)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            decorators = [
                d
                for d in node.decorator_list
                if isinstance(d, ast.Call) and _name(d.func) in COMMAND_DECORATORS
            ]
            given = any(k.arg == "help" for d in decorators for k in d.keywords)
            doc = ast.get_docstring(node, clean=False)
            if decorators and doc and not given and node.body:
                yield node.body[0].lineno, _clean(doc)


def extract(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[Any, ...]]:
    """Babel's ``python`` extraction, then the click help of the same file."""
    yield from extract_python(fileobj, keywords, comment_tags, options)  # type: ignore[arg-type]
    fileobj.seek(0)
    source = fileobj.read().decode(str(options.get("encoding", "utf-8")))
    for line, message in click_help(source):
        yield line, "", message, []
