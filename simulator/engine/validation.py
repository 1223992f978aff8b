"""Turning a pydantic schema's verdict into one clear line, and the checks a schema
cannot make (names that must be known, with a hint at the closest one).

A model's input is validated in one pass; the first problem raises a ``ScenarioError``
naming the file, the key path (``workload[1].flavor``), its line and what is expected.
"""
from __future__ import annotations

import copy
import difflib
import math
import types
import typing
from pathlib import Path
from typing import Any, Callable, Iterable, NoReturn

from pydantic import BaseModel, ValidationError

from simulator.engine.errors import ScenarioError
from simulator.engine.names import expand_names
from simulator.engine.yamlio import load_yaml


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path``, or of the nearest key above it, in the file."""
    probe = path
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe.rsplit(".", 1)[0] if "." in probe else (probe.rsplit("[", 1)[0] if "[" in probe else "")
    return None


def format_path(loc: Iterable[Any]) -> str:
    """``('workload', 1, 'flavor')`` → ``workload[1].flavor``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _unwrap(tp: Any) -> Any:
    """The type inside ``Annotated[...]`` and ``Optional[...]``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def model_at(root: type, loc: tuple[Any, ...]) -> type | None:
    """The pydantic model class found at ``loc`` inside ``root``, if any."""
    cur: Any = root
    for part in loc:
        cur = _unwrap(cur)
        if isinstance(cur, type) and issubclass(cur, BaseModel):
            f = None
            if isinstance(part, str):
                f = cur.model_fields.get(part) or next(
                    (fi for fi in cur.model_fields.values() if fi.alias == part), None)
            if f is None:
                return None
            cur = f.annotation
        elif typing.get_origin(cur) in (list, dict):
            cur = typing.get_args(cur)[-1]
        else:
            return None
    cur = _unwrap(cur)
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


def shown(value: Any) -> str:
    """A value for a one-line message: a number too long to read is said by its size."""
    text = repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(text) > 24:
        return f"a {len(text.lstrip('-'))}-digit number"
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e16:
        return f"{int(value):,}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return text if len(text) <= 60 else text[:57] + "..."


def explain_error(root: type, err: dict[str, Any], tags: frozenset[str] = frozenset()) -> tuple[tuple[Any, ...], str]:
    """The key path and the message of one pydantic error, said for a person: an
    unknown key lists the keys allowed there (and the closest), a type error shows what
    was given. ``tags`` are the tags of discriminated unions, which pydantic puts in
    the path and a person never wrote."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in tags))
    kind = err["type"]
    given = err.get("input")
    if kind == "extra_forbidden":
        parent = model_at(root, loc[:-1])
        allowed = sorted(f.alias or n for n, f in parent.model_fields.items()) if parent else []
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        msg = "unknown key"
        if hint:
            msg += f" (did you mean '{hint[0]}'?)"
        if allowed:
            msg += f"; expected one of: {', '.join(allowed)}"
        return loc, msg
    if kind == "missing":
        return loc, "required key is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif kind in ("less_than_equal", "less_than"):
        bound = (err.get("ctx") or {}).get("le", (err.get("ctx") or {}).get("lt"))
        msg = f"{shown(given)} is too large: at most {shown(bound)}, this simulator's bound"
    elif kind.endswith("_type") or kind in ("greater_than", "greater_than_equal", "less_than",
                                             "literal_error", "too_short", "union_tag_invalid"):
        msg = f"{msg[0].lower()}{msg[1:]} (got {given!r})"
    return loc, msg


class Checker:
    """Raises the error of one input file: ``fail`` at a key path, ``known`` for names
    that must be among those declared."""

    def __init__(self, source: str, lines: dict[str, int]):
        self.source = source
        self.lines = lines

    def fail(self, loc: tuple[Any, ...] | str, msg: str) -> NoReturn:
        path = loc if isinstance(loc, str) else format_path(loc)
        raise ScenarioError(self.source, path, msg, line_of(self.lines, path))

    def known(self, loc: tuple[Any, ...], name: str, known: Iterable[str], what: str) -> None:
        """``name`` must be one of ``known``; else an error with the closest name."""
        known = known if isinstance(known, (set, frozenset, dict)) else set(known)
        if name not in known:
            hint = difflib.get_close_matches(name, sorted(known), n=1)
            self.fail(loc, f"unknown {what} {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))

    def known_names(self, loc: tuple[Any, ...], pattern: str, known: set[str], what: str,
                    expected: str = "") -> list[str]:
        """The names a pattern (``vm[1-3]``) stands for, each one of ``known``."""
        try:
            names = expand_names(pattern)
        except ValueError as exc:
            self.fail(loc, str(exc))
        for t in names:
            if t not in known:
                hint = difflib.get_close_matches(t, sorted(known), n=1)
                self.fail(loc, f"unknown {what} {t!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                          + (f"; expected {expected}" if expected else ""))
        return names


Model = typing.TypeVar("Model", bound=BaseModel)


def read_input(source: str | Path | dict[str, Any], what: str) -> tuple[dict[str, Any], dict[str, int], str]:
    """A YAML file or a dict (the Python API): its data, its key-to-line map and its
    name. The top level must be a mapping (``what`` says of what)."""
    if isinstance(source, dict):
        data, lines, name = copy.deepcopy(source), {}, "<scenario>"
    else:
        name = str(source)
        data, lines = load_yaml(source)
    if not isinstance(data, dict):
        raise ScenarioError(name, "", f"expected a mapping of {what} at the top level, got {type(data).__name__}")
    return data, lines, name


def validate(model: type[Model], data: dict[str, Any], checker: Checker,
             tags: frozenset[str] = frozenset()) -> Model:
    """``model`` validated from ``data``, or the first problem as a ``ScenarioError``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, msg = explain_error(model, exc.errors()[0], tags)
        checker.fail(loc, msg)


#: a function that raises the error at a key path
Fail = Callable[..., NoReturn]
