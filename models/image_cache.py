"""The ``_base`` image cache of each host (or of each shared storage pool).

A destination whose cache lacks a move's base image fetches it from Glance once; a
second move that needs the same image there meanwhile waits for that fetch (Nova
holds a lock on the cache file while it downloads). Fetched images stay for the rest
of the run: the image cache manager removes only images unused for a day
(``remove_unused_original_minimum_age_seconds``), which no move here outlasts.
"""
from __future__ import annotations

from typing import Any, Callable, Generator, Sequence

import simpy


class ImageCache:
    """Which base images each cache holds, and the fetches under way."""

    def __init__(self, env: simpy.Environment, host_names: Sequence[str], storage: Sequence[str]):
        self.env = env
        self.host_names = list(host_names)
        self.storage = list(storage)
        #: (cache, image) → None once held, or the event of the fetch under way
        self._held: dict[tuple[str, str], simpy.Event | None] = {}
        #: base images fetched, and moves that found theirs cached
        self.fetches = 0
        self.hits = 0

    def domain(self, host: int) -> str:
        """Whose ``_base`` a host uses: its own, or its shared pool's."""
        s = self.storage[host]
        return self.host_names[host] if s in ("local", "rbd") else f"pool:{s}"

    def add(self, host: int, image: str) -> None:
        """``image`` is in the host's ``_base`` (it booted an instance from it)."""
        self._held[(self.domain(host), image)] = None

    def holds(self, host: int, image: str) -> bool:
        key = (self.domain(host), image)
        return key in self._held and self._held[key] is None

    def fill(self, host: int, image: str, fetch: Callable[[], Generator[simpy.Event, Any, None]]
             ) -> Generator[simpy.Event, Any, bool]:
        """Make sure the host's cache holds ``image``, running ``fetch`` if it does not
        (and no other move is fetching it); return whether this call fetched it."""
        key = (self.domain(host), image)
        while isinstance(self._held.get(key), simpy.Event):
            yield self._held[key]  # another move's fetch: then held, or failed and gone
        if key in self._held:
            self.hits += 1
            return False
        done = self._held[key] = self.env.event()
        self.fetches += 1
        try:
            yield from fetch()
        except BaseException:
            del self._held[key]
            done.succeed()
            raise
        self._held[key] = None
        done.succeed()
        return True

    def summary(self) -> dict[str, int]:
        """summary.json's ``images``."""
        return {"fetches": self.fetches, "cache_hits": self.hits}
