"""Name ranges: ``cmp[01-20]`` is twenty hosts, ``vm[1-3,7]`` is four instances.

Zero padding follows the first bound of each range (``01`` gives two digits), as
operators name their hosts. A name without brackets is itself.
"""
from __future__ import annotations

import re

_BRACKET = re.compile(r"^(?P<pre>[^\[\]]*)\[(?P<body>[^\[\]]+)\](?P<post>[^\[\]]*)$")
_ITEM = re.compile(r"^(\d+)(?:-(\d+))?$")


#: the most names one pattern may stand for
MAX_NAMES = 1_000_000


def expand_names(pattern: str, limit: int = MAX_NAMES) -> list[str]:
    """Expand one name pattern into the names it stands for, in order: at most
    ``limit`` of them (counted before any is made).

    Raises ``ValueError`` with a message saying what is expected.
    """
    if "[" not in pattern and "]" not in pattern:
        if not pattern:
            raise ValueError("a name must not be empty")
        return [pattern]
    m = _BRACKET.match(pattern)
    if not m:
        raise ValueError(f"bad name range {pattern!r} (expected one range such as 'cmp[01-20]')")
    ranges: list[tuple[int, int, int]] = []
    total = 0
    for item in m["body"].split(","):
        im = _ITEM.match(item.strip())
        if not im:
            raise ValueError(f"bad name range {pattern!r}: {item!r} is not N or N-M")
        lo_s, hi_s = im.group(1), im.group(2) or im.group(1)
        if max(len(lo_s), len(hi_s)) > 18:
            raise ValueError(f"bad name range {pattern!r}: numbers of at most 18 digits")
        lo, hi = int(lo_s), int(hi_s)
        if hi < lo:
            raise ValueError(f"bad name range {pattern!r}: {lo_s}-{hi_s} runs backwards")
        total += hi - lo + 1
        if total > limit:
            raise ValueError(f"name range {pattern!r} stands for {total:,} names or more; "
                             f"at most {limit:,} here")
        ranges.append((lo, hi, len(lo_s) if lo_s.startswith("0") else 0))
    return [f"{m['pre']}{i:0{width}d}{m['post']}" for lo, hi, width in ranges for i in range(lo, hi + 1)]
