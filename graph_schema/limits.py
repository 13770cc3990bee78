"""How big one definition may be: every node is stored, indexed, diffed and sent to every
reader, so a single proposal must not cost megabytes (issue 21: a 1,000,000-character
definition and 60,000 ``extra`` keys were accepted).

- a text field holds at most :data:`MAX_TEXT` characters (64 KiB);
- a whole definition (every text, key and list item of the node together) at most
  :data:`MAX_DEFINITION` characters (256 KiB);
- a metric's ``extra`` holds at most :data:`MAX_EXTRA_KEYS` keys, counted at every depth.

Each is a ``ValueError`` that pydantic reports at the field (``definition``, ``extra``, ...):
the catalog loader names file and line, the API answers 422 naming the field.
"""

from __future__ import annotations

from typing import Any

from core.i18n import _

MAX_TEXT = 64 * 1024
MAX_DEFINITION = 256 * 1024
MAX_EXTRA_KEYS = 2_000
#: a proposed definition as a whole, ``extra`` included and YAML aliases (``*a``) expanded:
#: what a 1 MiB request body can hold written out (the change form's YAML view is parsed by
#: the server, and 2 KB of aliases can stand for millions of items)
MAX_EXPANDED = 1024 * 1024
#: how deeply a proposed definition's lists and mappings may nest (``extra`` itself: 32)
MAX_NESTING = 64


def bounded_text(value: str) -> str:
    """``value`` unchanged, or ``ValueError`` past :data:`MAX_TEXT` characters.

    Examples
    --------
    >>> bounded_text("ok")
    'ok'
    >>> from core.i18n import use
    >>> with use("en"):
    ...     bounded_text("x" * (MAX_TEXT + 1))
    Traceback (most recent call last):
    ...
    ValueError: holds 65537 characters, over the limit of 65536; keep a definition short ...
    """
    if len(value) > MAX_TEXT:
        raise ValueError(
            _(
                "holds {value} characters, over the limit of {MAX_TEXT}; keep a "
                "definition short and link longer documents instead",
                value=len(value),
                MAX_TEXT=MAX_TEXT,
            )
        )
    return value


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """How deeply ``value``'s lists and mappings nest (a scalar: 0); stops past ``limit``.
    Walked without recursion: a definition nested thousands deep is measured, not followed
    (PyYAML, the JSON encoder and the YAML dumper each recurse, and fail past ~1,000).

    Examples
    --------
    >>> nesting_depth({"id": "atp", "extra": {"a": [[1]]}})
    4
    >>> nesting_depth("x")
    0
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack and deepest <= limit:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def definition_size(value: Any, limit: int = MAX_DEFINITION) -> int:
    """The characters of every string, key and scalar in ``value``, plus one per item and per
    container; stops counting past ``limit`` (so a huge input costs no more than the limit).

    Examples
    --------
    >>> definition_size({"id": "atp", "tags": ["a", "bc"], "n": 12})
    19
    """
    total = 0
    stack: list[Any] = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) or 1
        elif isinstance(item, dict):
            total += 1
            for k, v in item.items():  # texts counted here, not pushed: every node is counted
                total += len(k) if isinstance(k, str) else len(str(k))
                if isinstance(v, str):
                    total += len(v) or 1
                else:
                    stack.append(v)
        elif isinstance(item, list | tuple):
            if all(isinstance(x, str) for x in item):  # the common case: a list of texts
                total += sum(map(len, item)) + len(item) + 1
            else:
                stack.extend(item)
                total += 1
        else:
            total += len(str(item)) if item is not None else 1
    return total


def check_definition_size(value: Any) -> None:
    """``ValueError`` when the raw definition ``value`` is over :data:`MAX_DEFINITION`, naming
    the field that holds most of it.

    Examples
    --------
    >>> from core.i18n import use
    >>> with use("en"):
    ...     check_definition_size({"id": "m", "definition": "x" * 300_000})
    Traceback (most recent call last):
    ...
    ValueError: field 'definition' holds over 65536 characters (the limit per field; ...
    """
    if not isinstance(value, dict):
        return
    # `extra` is bounded by its own field validator (keys and values, each YAML alias use
    # counted, reported at the field's line); the rest of the definition here
    value = {k: v for k, v in value.items() if k != "extra"}
    if definition_size(value) <= MAX_DEFINITION:
        return
    sizes = {str(k): definition_size(v) for k, v in value.items()}
    field, size = max(sizes.items(), key=lambda kv: kv[1])
    if size > MAX_TEXT:
        raise ValueError(
            _(
                "field {field} holds over {MAX_TEXT} characters (the limit per field; "
                "{MAX_DEFINITION} per definition); keep a definition short and link "
                "longer documents instead",
                field=repr(field),
                MAX_TEXT=MAX_TEXT,
                MAX_DEFINITION=MAX_DEFINITION,
            )
        )
    raise ValueError(
        _(
            "the definition holds over {MAX_DEFINITION} characters in all (the limit "
            "per definition; {MAX_TEXT} per field), most of them in {field}; shorten "
            "it",
            MAX_DEFINITION=MAX_DEFINITION,
            MAX_TEXT=MAX_TEXT,
            field=repr(field),
        )
    )


def count_keys(value: Any, limit: int = MAX_EXTRA_KEYS) -> int:
    """Mapping keys at every depth of ``value`` (stops counting past ``limit``).

    Examples
    --------
    >>> count_keys({"dbt": {"filter": "x", "window": None}, "tags": [{"a": 1}]})
    5
    """
    total = visited = 0
    stack: list[Any] = [value]
    while stack and total <= limit:
        item = stack.pop()
        visited += 1
        if visited > 100 * limit:  # lists of lists: no keys, but no end either (the caller
            break  # bounds values on its own)
        if isinstance(item, dict):
            total += len(item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return total
