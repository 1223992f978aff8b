"""Named random streams derived from one seed.

Each component draws from its own stream (``bus.latency``, ``guest.shutdown``,
``workload[0].arrival``), so adding a component or a draw in one place never shifts
the numbers another component sees. Streams are derived by hashing the seed and the
stream's name, which is stable across processes and Python versions.
"""
from __future__ import annotations

import hashlib
import random


class RandomStreams:
    """A factory of independent ``random.Random`` generators keyed by name."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        """The generator for ``name``, created on first use."""
        rng = self._streams.get(name)
        if rng is None:
            digest = hashlib.sha256(f"{self.seed}\x00{name}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:16], "big"))
            self._streams[name] = rng
        return rng
