"""Quantities with units, as a scenario may write them: ``"10 Gbit/s"``,
``"500 MiB/s"``, ``"20 GiB"``, ``"2 min"``, ``"2/h"``.

A bare number is in the unit its key names (``_gbps`` Gbit/s, ``_mibps`` MiB/s, ``_gb``
GiB, ``_mb`` MiB; times in seconds; rates per second).

Units are case-sensitive, written as the SI and the IEC write them:

- prefixes: ``k`` ``M`` ``G`` ``T`` ``P`` are powers of 1000, ``Ki`` ``Mi`` ``Gi`` ``Ti``
  ``Pi`` powers of 1024. Upper-case ``K`` alone is refused (write ``k`` or ``Ki``), and
  so are lower-case ``m`` (that is milli), ``g``, ``t`` and ``p``.
- ``B``, ``byte``, ``bytes`` are bytes; ``b``, ``bit``, ``bits`` are bits (an eighth of
  a byte). Any prefix goes before any of them: ``GB`` = ``Gbyte``, ``GiB`` = ``Gibytes``,
  ``Gb`` = ``Gbit``, ``Gib`` = ``Gibit``. One exception: ``kb`` (and ``kb/s``) is refused
  as ambiguous, being often meant as kilobytes: write ``kbit`` or ``kB``.
- sizes: any of those (``"20 GiB"``, ``"1 TB"``; ``"8 Gbit"`` is 1 GB).
- bandwidths: a size per second, ``<size>/s`` (``Gbit/s``, ``Gb/s``, ``GB/s``,
  ``MiB/s``), or ``<prefix>bps`` in bits and ``<prefix>Bps`` in bytes: ``Gbps`` is
  ``Gbit/s``, ``GBps`` is ``GB/s``, ``MiBps`` is ``MiB/s``; ``kbps`` is kilobits per second.
- times: ``ms``; ``s``, ``sec``, ``second``, ``seconds``; ``min``, ``minute``,
  ``minutes``; ``h``, ``hour``, ``hours``; ``d``, ``day``, ``days``. ``m`` is refused
  (minutes? metres? milli?): write ``min``; so are ``S``, ``Min``, ``H``.
- rates: a number per time, ``"2/h"``, ``"1/30 min"``, ``"2 per hour"``, with those
  time units.

Anything else is a ValueError whose one line names the unit and the text, the spelling
probably meant and the accepted forms; so is a number that is not finite or too large
for a float (``"nan s"``, ``"1e400 GiB"``).

:func:`duration` reads a time given on the command line: a number of seconds, or a
quantity such as ``1h`` or ``90 min``.
"""
from __future__ import annotations

import argparse
import math
import re
from typing import Any

#: prefix -> (factor, name)
_PREFIXES = {"": (1, ""), "k": (10 ** 3, "kilo"), "M": (10 ** 6, "mega"), "G": (10 ** 9, "giga"),
             "T": (10 ** 12, "tera"), "P": (10 ** 15, "peta"), "Ki": (2 ** 10, "kibi"),
             "Mi": (2 ** 20, "mebi"), "Gi": (2 ** 30, "gibi"), "Ti": (2 ** 40, "tebi"),
             "Pi": (2 ** 50, "pebi")}
#: refused as ambiguous, and what to write instead
_AMBIGUOUS = {"kb": "kbit (kilobits) or kB (kilobytes)",
              "kb/s": "kbit/s or kbps (kilobits per second) or kB/s (kilobytes per second)"}


def _sizes_and_bandwidths() -> tuple[dict[str, tuple[int, int, str]], dict[str, tuple[int, int, str]]]:
    """unit -> (multiplier, divisor, name): bytes = value * multiplier / divisor."""
    size: dict[str, tuple[int, int, str]] = {}
    bandwidth: dict[str, tuple[int, int, str]] = {}
    for prefix, (factor, name) in _PREFIXES.items():
        for symbols, div, what in (("B byte bytes", 1, "bytes"), ("b bit bits", 8, "bits")):
            for symbol in symbols.split():
                size[prefix + symbol] = (factor, div, name + what)
                bandwidth[prefix + symbol + "/s"] = (factor, div, f"{name}{what} per second")
        bandwidth[prefix + "bps"] = (factor, 8, f"{name}bits per second")
        bandwidth[prefix + "Bps"] = (factor, 1, f"{name}bytes per second")
    for unit in _AMBIGUOUS:
        size.pop(unit, None)
        bandwidth.pop(unit, None)
    return size, bandwidth


_SIZE, _BANDWIDTH = _sizes_and_bandwidths()
#: unit -> (multiplier, divisor, name): seconds = value * multiplier / divisor
_TIME = {"ms": (1, 1000, "milliseconds"), "s": (1, 1, "seconds"), "sec": (1, 1, "seconds"),
         "second": (1, 1, "seconds"), "seconds": (1, 1, "seconds"), "min": (60, 1, "minutes"),
         "minute": (60, 1, "minutes"), "minutes": (60, 1, "minutes"), "h": (3600, 1, "hours"),
         "hour": (3600, 1, "hours"), "hours": (3600, 1, "hours"), "d": (86400, 1, "days"),
         "day": (86400, 1, "days"), "days": (86400, 1, "days")}
_TABLES = {"size": _SIZE, "bandwidth": _BANDWIDTH, "time": _TIME}
#: common spellings that are not accepted, and the one meant
_TIME_ALIASES = {"mins": "min", "secs": "s", "hr": "h", "hrs": "h", "msec": "ms"}

#: the unit of a bare number, and of the result, by kind
UNITS = {"gbps": ("bandwidth", 1e9 / 8, "Gbit/s"), "mibps": ("bandwidth", 2 ** 20, "MiB/s"),
         "gb": ("size", 2 ** 30, "GiB"), "mb": ("size", 2 ** 20, "MiB"), "s": ("time", 1.0, "s"),
         "per_s": ("rate", 1.0, "events per second")}

_TIMES = "ms, s, sec, second(s), min, minute(s), h, hour(s), d, day(s) (case-sensitive)"
_FORMS = {
    "size": "sizes are B, kB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB "
            "(powers of 1024), B also written byte(s), or the same in bits with b, bit(s) "
            "(Mb, Gbit, Gib; kbit, not kb), case-sensitive",
    "bandwidth": "bandwidths are a size per second: Gbit/s, Gb/s or Gbps in bits, GB/s or GBps "
                 "in bytes, MiB/s, MiBps, Gibit/s, bit/s, bps, B/s, with prefixes k, M, G, T, P "
                 "(1000) or Ki, Mi, Gi, Ti, Pi (1024), case-sensitive",
    "time": f"times are {_TIMES}",
    "rate": f"rates are a number per time such as 2/h, 1/30 min or 2 per hour, in {_TIMES}",
}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_BARE = re.compile(rf"^\s*{_NUMBER}\s*$")
_NUM = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z/]+)\s*$")
_RATE = re.compile(rf"^\s*({_NUMBER})\s*(?:/|per\s+)\s*((?:\d+\.?\d*|\.\d+)?)\s*([A-Za-z]+)\s*$")


def _finite(x: float, text: str) -> float:
    if math.isinf(x):
        raise ValueError(f"{text!r} is too large (beyond a float's range)")
    return x


def _hint(kind: str, unit: str) -> str:
    """Why ``unit`` is refused for ``kind`` and what was probably meant ("" if no idea)."""
    if unit in _AMBIGUOUS:
        return f"{unit!r} is ambiguous, write {_AMBIGUOUS[unit]}"
    own = _TABLES["time" if kind == "rate" else kind]
    for other, table in _TABLES.items():
        if table is not own and unit in table:
            also = f", write {unit}/s" if kind == "bandwidth" and other == "size" else ""
            return f"{unit!r} is a {other}, not a {'time' if kind == 'rate' else kind}{also}"
    if own is _TIME and unit.lower() == "m":
        return "'m' is ambiguous (minutes? metres? milli?), write min for minutes"
    if own is _TIME and unit in _TIME_ALIASES:
        return f"did you mean {_TIME_ALIASES[unit]}?"
    base, slash, per = unit.partition("/")
    if own is _BANDWIDTH and slash and per.lower() != "s" and base + "/s" in own:
        return f"a bandwidth is per second only, convert it to {base}/s"
    why, guesses = "units are case-sensitive", [u for u in own if u.lower() == unit.lower()]
    if own is not _TIME and unit[:1] == "K":
        rest = unit[1:]
        k_guesses = [("kbit" + rest[1:]) if "k" + rest in _AMBIGUOUS else "k" + rest, "Ki" + rest]
        if any(g in own for g in k_guesses):
            why, guesses = "K is not an SI prefix (k is 1000, Ki is 1024)", [g for g in k_guesses if g in own]
    elif own is not _TIME and unit[:1] == "m":
        why = "m is milli"
    elif own is not _TIME and unit[:1] in ("g", "t", "p"):
        why = "the prefixes M, G, T, P are upper-case"
    if not guesses:
        return ""
    guesses.sort(key=lambda g: "bytes" in own[g][2])  # bits first, then bytes
    return f"{why}; did you mean " + " or ".join(f"{g} ({own[g][2]})" for g in guesses) + "?"


def _refuse(kind: str, unit: str, text: str) -> ValueError:
    hint = _hint(kind, unit)
    label = "time" if kind == "rate" else kind
    return ValueError(f"unknown {label} unit {unit!r} in {text!r}" + (f": {hint}" if hint else "")
                      + f"; {_FORMS[kind]}")


def _not_a_quantity(text: str, kind: str) -> ValueError:
    first = text.strip().split("/")[0].split()[:1]
    try:
        if first and not math.isfinite(float(first[0])):
            return ValueError(f"{first[0]!r} in {text!r} is not a finite number")
    except ValueError:
        pass
    what = "rate" if kind == "rate" else "number with a unit"
    return ValueError(f"{text!r} is not a {what}; {_FORMS[kind]}")


def to_base(text: str, kind: str) -> float:
    """``"10 Gbit/s"`` → bytes per second; ``"2 GiB"`` → bytes; ``"2 min"`` → seconds;
    ``"2/h"``, ``"2 per hour"`` or ``"1/30 min"`` → events per second. Units are
    case-sensitive (see the module's docstring); a refused one is a ValueError."""
    if kind == "rate":
        r = _RATE.match(text)
        if not r:
            raise _not_a_quantity(text, kind)
        unit = r.group(3)
        if unit not in _TIME:
            raise _refuse(kind, unit, text)
        per = float(r.group(2)) if r.group(2) else 1.0
        if per <= 0:
            raise ValueError(f"{text!r} is per no time at all")
        mul, div, _ = _TIME[unit]
        return _finite(_finite(float(r.group(1)), text) * div / (_finite(per, text) * mul), text)
    m = _NUM.match(text)
    if not m:
        raise _not_a_quantity(text, kind)
    value, unit = _finite(float(m.group(1)), text), m.group(2)
    table = _TABLES[kind]
    if unit not in table:
        raise _refuse(kind, unit, text)
    mul, div, _ = table[unit]
    return _finite(value * mul / div, text)



class DurationError(ValueError, argparse.ArgumentTypeError):
    """A duration refused: a ValueError, and to argparse a usage error shown as it is."""


def duration(text: str) -> float:
    """Seconds > 0 from a bare number of seconds (``"90"``) or a time such as ``"1h"``,
    ``"90 min"``, ``"2.5 d"``; for an argparse ``type=`` (raises :class:`DurationError`,
    whose one-line message argparse prints)."""
    return _duration(text, zero=False)


def duration_or_zero(text: str) -> float:
    """As :func:`duration`, but 0 is allowed (e.g. no warm-up)."""
    return _duration(text, zero=True)


def _duration(text: str, zero: bool) -> float:
    try:
        v = _finite(float(text), text) if _BARE.match(text) else None
        v = to_base(text, "time") if v is None else v
    except ValueError as exc:
        tail = "" if _BARE.match(text) else "; or a bare number of seconds"
        raise DurationError(f"{exc}{tail}") from None
    if not (v > 0 or (zero and v == 0)):
        raise DurationError(f"expected seconds {'>=' if zero else '>'} 0 or a duration such as "
                            f"1h or 90 min, got {text!r}")
    return v


def in_unit(value: Any, unit: str, integral: bool = False) -> Any:
    """A scenario value for a key whose unit is ``unit`` (``gbps``, ``mibps``, ``gb``,
    ``mb``, ``s``): numbers pass through; strings with units are converted."""
    if not isinstance(value, str):
        return value
    kind, scale, name = UNITS[unit]
    try:
        # YAML 1.1 reads 1e-3 and 1.0e308 (no dot, or no exponent sign) as strings:
        # a bare number written so is still a number in the key's unit
        v = _finite(float(value), value) if _BARE.match(value) else to_base(value, kind) / scale
    except ValueError as exc:
        raise ValueError(f"{exc}; expected a number of {name} or a quantity such as "
                         f"'{_EXAMPLE[kind]}'") from None
    if integral:
        if not math.isclose(v, round(v), rel_tol=0, abs_tol=1e-9):
            raise ValueError(f"{value!r} is {v:g} {name}, not a whole number of {name}")
        return int(round(v))
    return v


_EXAMPLE = {"bandwidth": "10 Gbit/s", "size": "20 GiB", "time": "2 min", "rate": "2/h"}
