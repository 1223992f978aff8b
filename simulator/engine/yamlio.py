"""Safe YAML loading that refuses duplicate keys and remembers where each key is.

Only YAML's safe subset is accepted. A duplicate key is an error naming both lines.
``load_yaml`` returns the data and a map from key paths (``workload[1].flavor``) to
line numbers, so a validation error can point at the line that caused it.

The loader is bounded, so that no file can make it hang, exhaust memory or crash
(each refusal is one ``ScenarioError`` line naming the file, the line and the limit):
at most ``MAX_FILE_BYTES`` of UTF-8 text, collections nested at most ``MAX_DEPTH``
deep, at most ``MAX_NODES`` values once aliases (``*name``) are expanded (checked on
the composed graph before any Python object is built, which stops a nested-alias
"billion laughs" file), no recursive alias, and integers of at most
``MAX_INT_CHARS`` characters. The file is composed once, iteratively enough that
deep nesting is refused rather than overflowing the stack.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from simulator.engine.errors import ScenarioError

#: the largest file read: the shipped scenarios are at most 3.2 KB; 2 MiB is over 600
#: times that and keeps the pure-Python scanner (about 1 µs a character) to seconds
MAX_FILE_BYTES = 2 * 1024 * 1024
#: the deepest nesting of mappings and sequences, with aliases expanded: a scenario
#: nests 5 levels; 100 keeps every recursive walk far below Python's recursion limit
MAX_DEPTH = 100
#: the most values (scalars, mappings, sequences) a document may stand for with its
#: aliases expanded, and so the most it may hold: the shipped scenarios have at most
#: 351, and 10,000 hosts listed one by one about 150,000; composing costs some 50 µs
#: a value, so 200,000 bounds the worst file to about ten seconds, and everything
#: downstream that walks the data as well
MAX_NODES = 200_000
#: the longest integer literal: Python refuses to print an int of more than 4,300
#: digits, and a sexagesimal one (``1:00:00``) costs quadratic time in its length
MAX_INT_CHARS = 1000
#: up to this many values (aliases expanded) the line map is built exactly as the
#: data is, every path of an aliased value included; above it each aliased node is
#: mapped once, at its first path (``line_of`` falls back to the key above)
_LINE_MAP_EXPANDED = 100_000

_INT_TAG = "tag:yaml.org,2002:int"


class _Refused(Exception):
    """A limit of this loader was hit: the message and the YAML mark where."""

    def __init__(self, message: str, mark: yaml.Mark | None):
        super().__init__(message)
        self.message = message
        self.mark = mark


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader whose mappings refuse a key given twice, whose composer refuses
    nesting deeper than ``MAX_DEPTH`` and more than ``MAX_NODES`` nodes, and whose
    scalars that cannot be read (``!!int abc``, ``2001-13-45``) are YAML errors."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(f"more than {MAX_NODES:,} values in the file; this loader's limit",
                           self.peek_event().start_mark)
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"mappings and sequences nested more than {MAX_DEPTH} levels deep; "
                               "this loader's limit", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        node.written = list(node.value)  # the pairs as written, before merges flatten them
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if (node.tag == _INT_TAG and isinstance(node, yaml.ScalarNode)
                and len(node.value) > MAX_INT_CHARS and node not in self.constructed_objects):
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(node.value):,} characters; at most "
                f"{MAX_INT_CHARS:,} are read", node.start_mark)
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, IndexError) as exc:
            what = node.tag.rsplit(":", 1)[-1]
            shown = _short(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            why = f" ({_one_line(str(exc))})" if isinstance(exc, (ValueError, ArithmeticError)) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown} as {what!r}{why}", node.start_mark) from None


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text).strip()


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    # duplicates are looked for among the keys written in this mapping, as composed:
    # a key a merge (``<<: *base``) brings in may be overridden, as YAML says
    seen: dict[Any, int] = {}
    for key_node, _ in getattr(node, "written", node.value):
        if key_node.tag == _MERGE_TAG:
            key: Any = ("<<",)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '<<' (first given on line {seen[key]})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"duplicate key {key!r} (first given on line {seen[key]})", key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return []


def _measure(root: yaml.Node) -> int:
    """How many nodes ``root`` stands for with aliases expanded, counted in time linear
    in the composed graph (memoised per node, no recursion); refuses a recursive alias,
    more than ``MAX_NODES`` nodes or more than ``MAX_DEPTH`` levels of nesting."""
    size: dict[int, tuple[int, int]] = {}  # id → (nodes, depth), once measured
    open_: set[int] = set()  # ids on the current path (a child among them: a cycle)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        kids = _children(node)
        if done:
            open_.discard(nid)
            count = 1 + sum(size[id(k)][0] for k in kids)
            depth = 0 if isinstance(node, yaml.ScalarNode) else 1 + max(
                (size[id(k)][1] for k in kids), default=0)
            if count > MAX_NODES:
                raise _Refused(f"the file stands for more than {MAX_NODES:,} values once its aliases "
                               "(*name) are expanded; this loader's limit", node.start_mark)
            if depth > MAX_DEPTH:
                raise _Refused(f"mappings and sequences nested more than {MAX_DEPTH} levels deep once "
                               "aliases (*name) are expanded; this loader's limit", node.start_mark)
            size[nid] = (count, depth)
            continue
        if nid in open_:
            raise _Refused("an alias (*name) inside the value it names: a recursive structure "
                           "is not a scenario", node.start_mark)
        if nid in size:
            continue
        open_.add(nid)
        stack.append((node, True))
        stack.extend((k, False) for k in reversed(kids))
    return size[id(root)][0]


def _line_map(node: yaml.Node | None, path: str, out: dict[str, int],
              seen: set[int] | None = None) -> None:
    """Key paths to lines, walking aliased nodes at every path they appear at, or
    (given ``seen``) only at the first."""
    if node is None:
        return
    out.setdefault(path, node.start_mark.line + 1)
    if seen is not None:
        if id(node) in seen:
            return
        seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            # a key that is not a scalar is refused when the data is built; its repr
            # could be as large as the expanded document, so it is not spelled out
            key = k.value if isinstance(k, yaml.ScalarNode) else f"<{k.id}>"
            sub = f"{path}.{key}" if path else str(key)
            out[sub] = k.start_mark.line + 1
            _line_map(v, sub, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, f"{path}[{i}]", out, seen)


def _read_text(p: Path, name: str) -> str:
    """The file's text: at most ``MAX_FILE_BYTES``, UTF-8."""
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(name, "", "file not found") from None
    except IsADirectoryError:
        raise ScenarioError(name, "", "is a directory, expected a YAML file") from None
    except OSError as exc:
        raise ScenarioError(name, "", f"cannot read the file ({_one_line(str(exc))})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(name, "", f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB "
                            f"({MAX_FILE_BYTES:,} bytes), this loader's limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        utf16 = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ScenarioError(name, "", f"not UTF-8 text{utf16}: byte 0x{raw[exc.start]:02x} at column "
                            f"{column} ({exc.reason}); a YAML file must be UTF-8", line) from None
    return text


def load_yaml(path: str | Path) -> tuple[Any, dict[str, int]]:
    """Load a YAML file safely. Raises ``ScenarioError`` for a missing, malformed or
    too large file (see the limits above)."""
    name = str(path)
    text = _read_text(Path(path), name)
    loader = None
    try:
        loader = _UniqueKeyLoader(text)
        node = loader.get_single_node()  # composed once, for the data and the line map
        lines: dict[str, int] = {}
        data = None
        if node is not None:
            expanded = _measure(node)
            # before the data is built: building it flattens merge keys (<<) in place
            _line_map(node, "", lines, None if expanded <= _LINE_MAP_EXPANDED else set())
            data = loader.construct_document(node)
    except _Refused as exc:
        raise ScenarioError(name, "", exc.message, exc.mark.line + 1 if exc.mark else None) from None
    except yaml.reader.ReaderError as exc:
        char = exc.character  # PyYAML gives the code point (an int); be lenient
        code = ord(char) if isinstance(char, str) and len(char) == 1 else char
        what = ("a NUL byte" if code == 0 else f"character #x{code:04x}" if isinstance(code, int)
                else "a character")
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ScenarioError(name, "", f"malformed YAML: {what} at column {column}: {exc.reason}", line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = exc.problem or exc.context
        if exc.problem == "but found another document" or str(exc.problem).startswith(
                "expected '<document start>'"):
            msg = "a second document (after '---' or '...'); a scenario file holds one YAML document"
        raise ScenarioError(name, "", f"malformed YAML: {_one_line(str(msg))}", line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(name, "", f"malformed YAML: {_one_line(str(exc))}") from None
    except RecursionError:  # a last resort: the limits above should keep this from happening
        line = loader.line + 1 if loader is not None else None
        raise ScenarioError(name, "", f"nested too deeply to read (this loader's limit is {MAX_DEPTH} "
                            "levels)", line) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines
