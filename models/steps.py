"""How a service declares the steps a request's trace is made of, each with the Nova
function it stands for (Kilo's layout), so a student can look it up.

- ``@rpc_handler(file, qualname)`` marks a method that handles a message: an RPC
  method of a service's topic, or an HTTP operation of nova-api. Only these can be
  sent to a service; each may have its own ``service_time``.
- ``@periodic_task(file, qualname)`` marks a periodic task: it has a service time and
  begins a hop of its own, but no message names it.
- ``Step`` is timed work inside a handler (the driver's power-off, copy, boot; the
  resource tracker's claim), declared where that work is modelled.

``models.catalog`` gathers them: the schema, the narration, the timeline and the sweep
patterns all derive their names from there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class NovaFunction:
    """Where a step lives in Nova's code: ``nova/compute/manager.py`` and
    ``ComputeManager.prep_resize``."""

    file: str
    qualname: str

    def __str__(self) -> str:
        return f"{self.file} {self.qualname}"


@dataclass(frozen=True)
class Step:
    """Timed work inside a handler: its trace name, what it does, and Nova's function."""

    name: str
    does: str
    function: NovaFunction


def rpc_handler(file: str, qualname: str) -> Callable[[F], F]:
    """Mark a service method as the handler of the message (or HTTP operation) named
    like it."""
    def mark(fn: F) -> F:
        fn.nova_step = ("rpc", NovaFunction(file, qualname))  # type: ignore[attr-defined]
        return fn
    return mark


def periodic_task(file: str, qualname: str) -> Callable[[F], F]:
    """Mark a service method as a periodic task (a step with a service time that no
    message names)."""
    def mark(fn: F) -> F:
        fn.nova_step = ("periodic", NovaFunction(file, qualname))  # type: ignore[attr-defined]
        return fn
    return mark


def declared_steps(cls: type, kind: str) -> dict[str, NovaFunction]:
    """The methods of ``cls`` (and its bases) marked as ``kind`` ("rpc" or "periodic")."""
    out: dict[str, NovaFunction] = {}
    for klass in reversed(cls.__mro__):
        for name, member in vars(klass).items():
            mark = getattr(member, "nova_step", None)
            if mark is not None and mark[0] == kind:
                out[name] = mark[1]
    return out
