"""Safe YAML loading that refuses duplicate keys and remembers where each key is.

Only YAML's safe subset is accepted. A duplicate key is an error naming both lines.
``load_yaml`` returns the data and a map from key paths (``workload[1].flavor``) to
line numbers, so a validation error can point at the line that caused it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.engine.errors import ScenarioError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader whose mappings refuse a key given twice."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
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
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_map(node: yaml.Node | None, path: str, out: dict[str, int]) -> None:
    if node is None:
        return
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            sub = f"{path}.{key}" if path else str(key)
            out[sub] = k.start_mark.line + 1
            _line_map(v, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, f"{path}[{i}]", out)


def load_yaml(path: str | Path) -> tuple[Any, dict[str, int]]:
    """Load a YAML file safely. Raises ``ScenarioError`` for a missing or malformed file."""
    p = Path(path)
    name = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(name, "", "file not found") from None
    except IsADirectoryError:
        raise ScenarioError(name, "", "is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(name, "", f"cannot read the file ({exc})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
        lines: dict[str, int] = {}
        _line_map(yaml.compose(text, Loader=yaml.SafeLoader), "", lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError(name, "", f"malformed YAML: {exc.problem or exc.context}", line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(name, "", f"malformed YAML: {exc}") from None
    return data, lines
