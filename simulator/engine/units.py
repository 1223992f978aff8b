"""Quantities with units, as a scenario may write them: ``"10 Gbit/s"``,
``"500 MiB/s"``, ``"20 GiB"``, ``"2 min"``, ``"2/h"``.

A bare number is in the unit its key names (``_gbps`` Gbit/s, ``_mibps`` MiB/s, ``_gb``
GiB, ``_mb`` MiB; times in seconds; rates per second). Decimal prefixes are powers of 1000 (``GB``,
``Gbit``), binary ones powers of 1024 (``GiB``).
"""
from __future__ import annotations

import math
import re
from typing import Any

_SIZE = {"b": 1, "byte": 1, "bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
         "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}
_BITS = {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12,
         "bps": 1, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12}
_TIME = {"ms": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1, "min": 60, "minute": 60,
         "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}

#: the unit of a bare number, and of the result, by kind
UNITS = {"gbps": ("bandwidth", 1e9 / 8, "Gbit/s"), "mibps": ("bandwidth", 2 ** 20, "MiB/s"),
         "gb": ("size", 2 ** 30, "GiB"), "mb": ("size", 2 ** 20, "MiB"), "s": ("time", 1.0, "s"),
         "per_s": ("rate", 1.0, "events per second")}

_NUM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z/]+)\s*$")


_RATE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:/|per\s+)\s*"
                   r"((?:\d+\.?\d*|\.\d+)?)\s*([A-Za-z]+)\s*$")


def to_base(text: str, kind: str) -> float:
    """``"10 Gbit/s"`` → bytes per second; ``"2 GiB"`` → bytes; ``"2 min"`` → seconds;
    ``"2/h"``, ``"2 per hour"`` or ``"1/30 min"`` → events per second."""
    if kind == "rate":
        r = _RATE.match(text)
        if not r:
            raise ValueError(f"{text!r} is not a rate")
        unit = r.group(3).lower()
        if unit not in _TIME:
            raise ValueError(f"unknown time unit {r.group(3)!r} in {text!r}")
        per = float(r.group(2)) if r.group(2) else 1.0
        if per <= 0:
            raise ValueError(f"{text!r} is per no time at all")
        return float(r.group(1)) / (per * _TIME[unit])
    m = _NUM.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a number with a unit")
    value, unit = float(m.group(1)), m.group(2).lower()
    if kind == "time":
        if unit in _TIME:
            return value * _TIME[unit]
    elif kind == "size":
        if unit in _SIZE:
            return value * _SIZE[unit]
    elif kind == "bandwidth":
        if unit.endswith("/s"):
            base = unit[:-2]
            if base in _SIZE:
                return value * _SIZE[base]
            if base in _BITS:
                return value * _BITS[base] / 8
        elif unit in _BITS and unit.endswith("ps"):
            return value * _BITS[unit] / 8
    raise ValueError(f"unknown {kind} unit {m.group(2)!r} in {text!r}")


def in_unit(value: Any, unit: str, integral: bool = False) -> Any:
    """A scenario value for a key whose unit is ``unit`` (``gbps``, ``mibps``, ``gb``,
    ``mb``, ``s``): numbers pass through; strings with units are converted."""
    if not isinstance(value, str):
        return value
    kind, scale, name = UNITS[unit]
    try:
        v = to_base(value, kind) / scale
    except ValueError as exc:
        raise ValueError(f"{exc}; expected a number of {name} or a quantity such as "
                         f"'{_EXAMPLE[kind]}'") from None
    if integral:
        if not math.isclose(v, round(v), rel_tol=0, abs_tol=1e-9):
            raise ValueError(f"{value!r} is {v:g} {name}, not a whole number of {name}")
        return int(round(v))
    return v


_EXAMPLE = {"bandwidth": "10 Gbit/s", "size": "20 GiB", "time": "2 min", "rate": "2/h"}
