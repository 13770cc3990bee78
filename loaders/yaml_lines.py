"""YAML reading that remembers line numbers, so errors can point into the file."""

from __future__ import annotations

import re
from typing import Any

import yaml


class LDict(dict[str, Any]):
    """A mapping read from YAML; ``line`` is where it starts, ``key_lines`` where each key is."""

    line: int = 0
    key_lines: dict[str, int]


class LList(list[Any]):
    """A sequence read from YAML; ``line`` is where it starts, ``item_lines`` each item's line."""

    line: int = 0
    item_lines: list[int]


class DuplicateKeyError(yaml.MarkedYAMLError):
    pass


# libyaml's parser and composer when PyYAML was built with it; nodes are turned into Python
# values by :func:`_build` below (not PyYAML's generic constructor), reading line numbers from
# the nodes' marks.
_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_Scalar, _Mapping, _Sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode


class _LineLoader(_BASE):  # type: ignore[valid-type,misc]
    #: first characters of a plain scalar that may be something else than text (numbers,
    #: booleans, null, dates, merge keys); any other plain scalar is text without a regex
    _maybe_typed: frozenset[str] = frozenset()

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is _Scalar and implicit[0] and value and value[0] not in self._maybe_typed:
            return _STR
        return super().resolve(kind, value, implicit)


_LineLoader._maybe_typed = frozenset(k for k in _LineLoader.yaml_implicit_resolvers if k)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LDict:
    """PyYAML's constructor hook (used only for nodes :func:`_build` hands back to it)."""
    return _build(loader, node, {})  # type: ignore[no-any-return]


def _construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LList:
    return _build(loader, node, {})  # type: ignore[no-any-return]


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _build(loader: Any, node: Any, memo: dict[int, Any]) -> Any:
    """The Python value of ``node``: text as is, other scalars through PyYAML's constructors,
    mappings as :class:`LDict` and sequences as :class:`LList` with their lines. An alias is
    the same object as its anchor (``memo``), so aliases cannot blow up the document."""
    cls = node.__class__
    if cls is _Scalar:
        return node.value if node.tag == _STR else loader.construct_object(node, deep=True)
    done = memo.get(id(node))
    if done is not None:
        return done
    if cls is _Mapping and node.tag == _MAP:
        out = LDict()
        memo[id(node)] = out
        out.line = node.start_mark.line + 1
        lines: dict[str, int] = {}
        out.key_lines = lines
        pairs = node.value
        merged = 0  # leading pairs that come from merge keys (<<): the mapping's own override
        if any(k.tag == _MERGE for k, _ in pairs):
            own = sum(1 for k, _ in pairs if k.tag != _MERGE)
            loader.flatten_mapping(node)
            pairs = node.value
            merged = len(pairs) - own
        own_keys: set[str] = set()
        seen: set[str] | dict[str, int] = own_keys if merged else lines
        for i, (key_node, value_node) in enumerate(pairs):
            if key_node.__class__ is _Scalar and key_node.tag == _STR:
                key = key_node.value
            else:
                key = _build(loader, key_node, memo)
                if not isinstance(key, str):
                    key = str(key)
            if i >= merged and key in seen:
                raise DuplicateKeyError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} appears twice (first on line {lines[key]})",
                    key_node.start_mark,
                )
            if merged and i >= merged:
                own_keys.add(key)
            out[key] = _build(loader, value_node, memo)
            lines[key] = key_node.start_mark.line + 1
        return out
    if cls is _Sequence and node.tag == _SEQ:
        seq = LList()
        memo[id(node)] = seq
        seq.line = node.start_mark.line + 1
        children = node.value
        seq.extend([_build(loader, child, memo) for child in children])
        seq.item_lines = [child.start_mark.line + 1 for child in children]
        return seq
    return loader.construct_object(node, deep=True)  # an explicit tag (!!set, !!binary, ...)


#: libyaml's composer recurses in C and kills the process (SIGSEGV) at ~20,000 levels of nesting
#: (60 KB of '- - - …' does it); the parser's events do not recurse, so deep texts are measured
#: with them first — unless a cheap bound shows the text cannot be that deep (see
#: :func:`_depth_bound`).
MAX_DEPTH = 1_000

#: what may stand before a line's first value: indentation and block indicators ("- - ? x")
_BLOCK_PREFIX = re.compile(r"^[ \-?:]*", re.MULTILINE)


def _depth_bound(text: str) -> int:
    """An upper bound of how deep ``text`` can nest.

    Flow collections nest one level per ``[`` or ``{``. A block collection nested in another
    starts to the right of its parent (more indentation, or after a ``- `` / ``? `` on the same
    line) or, for a sequence under a mapping key, in the same column; so block depth is at most
    twice the widest run of indentation and indicators a line starts with, plus one.

    Examples
    --------
    >>> _depth_bound("a:\\n  b: [1, [2]]\\n")
    7
    >>> _depth_bound("- - - - x\\n") >= 4
    True
    """
    widest = max(map(len, _BLOCK_PREFIX.findall(text)), default=0)
    return 2 * widest + 1 + text.count("[") + text.count("{")


class NestingError(yaml.MarkedYAMLError):
    pass


def _check_depth(text: str) -> None:
    """Raise :class:`NestingError` (with the line) when ``text`` nests deeper than MAX_DEPTH."""
    if _depth_bound(text) <= MAX_DEPTH:
        return
    depth = 0
    problem = f"nested deeper than {MAX_DEPTH} levels"
    try:
        for event in yaml.parse(text, Loader=_BASE):
            if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark: Any = event.start_mark  # libyaml's Mark or PyYAML's: both have .line
                    raise NestingError(None, None, problem, mark)
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:  # PyYAML ≥ 6.0.3 has a nesting limit of its own
        if isinstance(exc, NestingError) or "nesting depth" not in str(exc.problem or ""):
            raise
        raise NestingError(None, None, problem, exc.problem_mark) from exc


def load_yaml(text: str) -> Any:
    """Parse one YAML document, keeping line numbers. Raises ``yaml.YAMLError``.

    Examples
    --------
    >>> data = load_yaml("id: atp\\nfields: [a, b]\\nversion: 1.0\\nowner: ~\\n")
    >>> data, data.key_lines["version"], data["fields"].item_lines
    ({'id': 'atp', 'fields': ['a', 'b'], 'version': 1.0, 'owner': None}, 3, [2, 2])
    """
    _check_depth(text)
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _build(loader, node, {})
    finally:
        loader.dispose()


def line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the value at ``loc`` (a pydantic error location) inside ``data``.

    Falls back to the closest enclosing container that knows its line.
    """
    best: int | None = getattr(data, "line", None)
    current = data
    for part in loc:
        if isinstance(current, LDict) and isinstance(part, str):
            if part in current.key_lines:
                best = current.key_lines[part]
            if part not in current:
                break
            current = current[part]
        elif isinstance(current, LList) and isinstance(part, int) and 0 <= part < len(current):
            best = current.item_lines[part]
            current = current[part]
        else:
            break
        inner = getattr(current, "line", None)
        if inner and best is None:
            best = inner
    return best


def load_yaml_all(text: str) -> list[Any]:
    """Parse every document of a multi-document YAML text (``---``), keeping line numbers."""
    _check_depth(text)
    loader = _LineLoader(text)
    try:
        docs = []
        while loader.check_node():
            docs.append(_build(loader, loader.get_node(), {}))
        return docs
    finally:
        loader.dispose()
