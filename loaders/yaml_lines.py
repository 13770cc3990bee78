"""YAML reading that remembers line numbers, so errors can point into the file."""

from __future__ import annotations

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


# libyaml's parser when PyYAML was built with it (5x faster); the constructors below stay in
# Python either way and read line numbers from the nodes' marks.
_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BASE):  # type: ignore[valid-type,misc]
    pass


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LDict:
    out = LDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in out:
            raise DuplicateKeyError(
                "while reading a mapping",
                node.start_mark,
                f"the key {key!r} appears twice (first on line {out.key_lines[key]})",
                key_node.start_mark,
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LList:
    out = LList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str) -> Any:
    """Parse one YAML document, keeping line numbers. Raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=_LineLoader)


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
    return list(yaml.load_all(text, Loader=_LineLoader))
