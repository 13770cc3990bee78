"""Minimal in-place edits of one mapping of a hand-written YAML file: set, add or remove keys
at any depth (``caliber.numerator.excludes``), leaving every other byte as it was — other keys,
comments, key order, quoting, flow or block style.

How a value is written follows what was there:

* a scalar on its key's line is replaced on that line (a comment after it stays);
* a flow collection (``[a, b]``, ``{k: v}``) stays a flow collection when it fits on its line;
* a block list that only grew gets its new items appended, written like its last item; a
  block list of plain text keeps the lines (and comments) of the items that stay;
* anything else is written again in block style, indented as the key is;
* a new key goes after the key before it in ``order`` (the template's order), else last.

:func:`patch` re-parses the result and compares it with the expected document: anything
else that changed raises :class:`~loaders.yaml_edit.YamlEditError` (nothing is returned).

Examples
--------
>>> text = "id: atp  # 客单价\\nunit: CNY  # 元\\ncaliber:\\n  time: 自然月\\nversion: 1.0.0\\n"
>>> print(patch(text, 1, {("unit",): "元", ("caliber", "rules"): ["按完成时间"]}), end="")
id: atp  # 客单价
unit: 元  # 元
caliber:
  time: 自然月
  rules:
    - 按完成时间
version: 1.0.0
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from core.i18n import _
from loaders.yaml_edit import YamlEditError, set_list
from loaders.yaml_lines import load_yaml

Path = tuple[str, ...]
_Node = yaml.Node


def _compose(text: str, where: str) -> _Node:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # pure Python: marks index the str
    except yaml.YAMLError as exc:
        raise YamlEditError(
            _("{where}: the file does not parse as YAML: {error}", where=where, error=exc)
        ) from exc
    if node is None:
        raise YamlEditError(_("{where}: the file is empty", where=where))
    return node


def _mapping_at(node: _Node, line: int) -> yaml.MappingNode | None:
    """The mapping node whose first line (1-based) is ``line``."""
    if isinstance(node, yaml.MappingNode):
        if node.start_mark.line + 1 == line:
            return node
        children = [v for _, v in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        return None
    for child in children:
        found = _mapping_at(child, line)
        if found is not None:
            return found
    return None


def _entry(mapping: yaml.MappingNode, key: str) -> tuple[_Node, _Node] | None:
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _last_line(node: _Node, lines: list[str]) -> int:
    """The 0-based last line holding something of ``node`` (not the blank lines after it)."""
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        end = node.end_mark.line - (1 if node.end_mark.column == 0 else 0)
        while end > node.start_mark.line and not lines[end].strip():
            end -= 1
        return end
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False) or not node.value:
        return int(node.end_mark.line) - (1 if node.end_mark.column == 0 else 0)
    last = node.value[-1]
    return _last_line(last[1] if isinstance(last, tuple) else last, lines)


def _inline(value: Any, flow: bool = True) -> str | None:
    """``value`` written on one line (flow style), or ``None`` when it does not fit one."""
    if not flow and (isinstance(value, Mapping | list) or "\n" in str(value)):
        return None
    text = yaml.dump(
        value,
        Dumper=yaml.SafeDumper,
        allow_unicode=True,
        default_flow_style=True,
        sort_keys=False,
        width=10**6,
    )
    text = text.removesuffix("\n...\n").rstrip("\n")
    return None if "\n" in text else text


class _Dumper(yaml.SafeDumper):
    """Block style as people write it; text exactly as given (a ``|`` block when the emitter
    allows one for it, else quoted)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _dump(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=4096,
        default_flow_style=False,
    )


def _block(key: str, value: Any, indent: int) -> list[str]:
    """``key: value`` in block style: the first line unindented, the others by ``indent``."""
    rendered = _dump({key: value}).splitlines()
    if rendered and rendered[-1] == "...":  # the document end marker after a |+ block
        rendered.pop()
    return [rendered[0]] + [" " * indent + line for line in rendered[1:]]


def _eol(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _set_value(text: str, mapping: yaml.MappingNode, key: str, value: Any, where: str) -> str:
    found = _entry(mapping, key)
    assert found is not None
    knode, vnode = found
    lines = text.splitlines(keepends=True)
    start, end = vnode.start_mark.index, vnode.end_mark.index
    if isinstance(vnode, yaml.ScalarNode) and vnode.style not in ("|", ">"):
        inline = _inline(value, flow=False)
        if inline is not None and vnode.start_mark.line == knode.start_mark.line:
            return text[:start] + inline + text[end:]
    if getattr(vnode, "flow_style", False) and vnode.start_mark.line == vnode.end_mark.line:
        inline = _inline(value)
        if inline is not None and len(inline) <= 200:
            return text[:start] + inline + text[end:]
    if isinstance(vnode, yaml.ScalarNode) and vnode.style == "|" and isinstance(value, str):
        kept = _literal_body(text, knode, vnode, key, value, lines)
        if kept is not None:
            return kept
    if isinstance(vnode, yaml.SequenceNode) and not vnode.flow_style and isinstance(value, list):
        old = [_jsonish(_value_of(item)) for item in vnode.value]
        if value[: len(old)] == old and len(value) > len(old):
            return _append_items(text, vnode, value[len(old) :], lines)
        if all(_plain_item(v) for v in value) and all(
            isinstance(i, yaml.ScalarNode) for i in vnode.value
        ):
            return set_list(text, mapping.start_mark.line + 1, key, value, where)
    return _rewrite_entry(text, knode, vnode, key, value, lines)


def _plain_item(value: Any) -> bool:
    """Text that :func:`loaders.yaml_edit.set_list` writes safely (plain or "quoted")."""
    return (
        isinstance(value, str)
        and value.isprintable()
        and value == value.strip()
        and not any(c in value for c in '"\\')
    )


def _literal_body(
    text: str, knode: _Node, vnode: _Node, key: str, value: str, lines: list[str]
) -> str | None:
    """A ``|`` block whose header (and its comment) stays: only the body lines change."""
    rendered = _block(key, value, 0)
    header = rendered[0][len(key) + 1 :].strip()  # "|", "|-" or "|+"
    head_line = lines[vnode.start_mark.line]
    indicator = head_line[vnode.start_mark.column :].split("#", 1)[0].strip()
    if indicator != header or vnode.start_mark.line != knode.start_mark.line:
        return None
    first = vnode.start_mark.line + 1
    last = _last_line(vnode, lines)
    if first > last:
        return None
    body_indent = len(lines[first]) - len(lines[first].lstrip(" "))
    nl = _eol(text)
    body = [(" " * body_indent + line[2:] if line.strip() else "") + nl for line in rendered[1:]]
    if not lines[last].endswith("\n"):
        body[-1] = body[-1].rstrip("\r\n")
    return "".join(lines[:first] + body + lines[last + 1 :])


def _jsonish(value: Any) -> Any:
    """Parsed YAML as stored properties hold it: dates as ISO text."""
    import datetime as dt

    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonish(v) for v in value]
    return value


def _value_of(node: _Node) -> Any:
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _append_items(text: str, seq: yaml.SequenceNode, items: list[Any], lines: list[str]) -> str:
    last = seq.value[-1]
    at = _last_line(last, lines)
    indent = seq.value[-1].start_mark.column - 2
    nl = _eol(text)
    new: list[str] = []
    for item in items:
        inline = _inline(item) if getattr(last, "flow_style", False) or _scalar(last) else None
        if inline is not None:
            new.append(" " * indent + "- " + inline + nl)
        else:
            body = _dump([item]).splitlines()
            new += [" " * indent + line + nl for line in body]
    if not lines[at].endswith("\n"):
        lines[at] += nl
    return "".join(lines[: at + 1] + new + lines[at + 1 :])


def _scalar(node: _Node) -> bool:
    return isinstance(node, yaml.ScalarNode)


def _rewrite_entry(
    text: str, knode: _Node, vnode: _Node, key: str, value: Any, lines: list[str]
) -> str:
    """Write ``key: value`` again in block style in place of the whole entry."""
    last = _last_line(vnode, lines)
    line_end = sum(len(x) for x in lines[: last + 1])
    tail = lines[last][len(lines[last].rstrip("\r\n")) :] or _eol(text)
    nl = _eol(text)
    body = nl.join(_block(key, value, knode.start_mark.column))
    return text[: knode.start_mark.index] + body + tail + text[line_end:]


def _remove(text: str, mapping: yaml.MappingNode, key: str, where: str) -> str:
    found = _entry(mapping, key)
    if found is None:
        return text
    knode, vnode = found
    lines = text.splitlines(keepends=True)
    first = knode.start_mark.line
    if lines[first][: knode.start_mark.column].strip():
        raise YamlEditError(
            _(
                "{where}:{value}: '{key}' shares its line with other YAML; remove it by hand",
                where=where,
                value=first + 1,
                key=key,
            )
        )
    last = _last_line(vnode, lines)
    return "".join(lines[:first] + lines[last + 1 :])


def _insert(
    text: str, mapping: yaml.MappingNode, key: str, value: Any, order: Sequence[str]
) -> str:
    lines = text.splitlines(keepends=True)
    present = [k.value for k, _ in mapping.value if isinstance(k, yaml.ScalarNode)]
    rank = {k: i for i, k in enumerate(order)}
    anchor = present[-1]
    if key in rank:
        before = [k for k in present if rank.get(k, -1) < rank[key] and k in rank]
        if before:
            anchor = max(before, key=lambda k: rank[k])
    found = _entry(mapping, anchor)
    assert found is not None
    knode, vnode = found
    at = _last_line(vnode, lines)
    indent = knode.start_mark.column
    nl = _eol(text)
    block = _block(key, value, indent)
    new = [" " * indent + block[0] + nl] + [line + nl for line in block[1:]]
    if at < len(lines) and not lines[at].endswith("\n"):
        lines[at] += nl
    return "".join(lines[: at + 1] + new + lines[at + 1 :])


def _flow_rewrite(text: str, node: _Node, value: Any, where: str) -> str:
    inline = _inline(value)
    if inline is None:
        raise YamlEditError(
            _(
                "{where}:{value}: edit this mapping by hand",
                where=where,
                value=node.start_mark.line + 1,
            )
        )
    return text[: node.start_mark.index] + inline + text[node.end_mark.index :]


def _apply(text: str, line: int, path: Path, value: Any, order: Sequence[str], where: str) -> str:
    root = _compose(text, where)
    mapping = _mapping_at(root, line)
    if mapping is None:
        raise YamlEditError(_("{where}: no mapping starts at line {line}", where=where, line=line))
    data = load_yaml(text)
    current = _data_at(data, line)
    for depth, key in enumerate(path):
        if mapping.flow_style:  # a {…} mapping: written again whole, in flow style
            target = copy.deepcopy(dict(current))
            _set_path(target, path[depth:], value)
            return _flow_rewrite(text, mapping, target, where)
        last = depth == len(path) - 1
        found = _entry(mapping, key)
        if last or found is None or not isinstance(found[1], yaml.MappingNode):
            if found is not None and not last:  # a leaf that becomes a mapping
                sub: dict[str, Any] = {}
                _set_path(sub, path[depth + 1 :], value)
                return _set_value(text, mapping, key, sub, where) if sub else text
            if found is None:
                if value is None:
                    return text
                sub_value: Any = value
                for part in reversed(path[depth + 1 :]):
                    sub_value = {part: sub_value}
                return _insert(text, mapping, key, sub_value, order if depth == 0 else ())
            if value is None or value == [] or value == {}:
                return _remove(text, mapping, key, where)
            return _set_value(text, mapping, key, value, where)
        mapping = found[1]
        current = current.get(key) if isinstance(current, Mapping) else {}
    return text


def _data_at(data: Any, line: int) -> Any:
    if isinstance(data, Mapping):
        if getattr(data, "line", None) == line:
            return data
        children: Any = data.values()
    elif isinstance(data, list):
        children = data
    else:
        return None
    for child in children:
        found = _data_at(child, line)
        if found is not None:
            return found
    return None


def _set_path(target: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = {}
            target[key] = child
        target = child
    if value is None:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


def expected_document(data: Any, line: int, changes: Mapping[Path, Any]) -> Any:
    """``data`` (a parsed document) with ``changes`` applied to the mapping at ``line``."""
    out = copy.deepcopy(data)
    target = _data_at(out, line)
    if not isinstance(target, dict):
        raise YamlEditError(_("no mapping starts at line {line}", line=line))
    for path, value in sorted(changes.items()):
        _set_path(target, path, value)
    return out


def patch(
    text: str,
    line: int,
    changes: Mapping[Path, Any],
    order: Sequence[str] = (),
    where: str = "file",
) -> str:
    """``text`` with ``changes`` (path → value; ``None`` removes) made to the mapping that
    starts on ``line`` (1-based). Raises :class:`YamlEditError` when it cannot be done in
    place, or when the result reads back as anything else than the expected document."""
    from graph_schema.merge import normalized

    before = load_yaml(text)
    out = text
    for path, value in sorted(changes.items()):
        out = _apply(out, line, path, value, order, where)
    try:
        after = load_yaml(out)
    except yaml.YAMLError as exc:
        raise YamlEditError(
            _("{where}: the edit does not parse ({error}); edit it by hand", where=where, error=exc)
        ) from exc
    expected = expected_document(before, line, changes)
    if normalized(_jsonish(after)) != normalized(_jsonish(expected)):
        fields = ", ".join(".".join(p) for p in sorted(changes))
        raise YamlEditError(
            _(
                "{where}:{line}: could not edit {fields} in place; edit it by hand",
                where=where,
                line=line,
                fields=fields,
            )
        )
    return out
