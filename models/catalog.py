"""The names of what a run is made of, gathered from where each is declared: the
services and their handlers (``@rpc_handler``, ``@periodic_task``), the driver's and
the resource tracker's timed steps, and how a service on a host is named.

The scenario schema (per-operation service times), the narration of ``step``, the
timeline, the sequence diagram and the sweep's metric paths all take their names from
here, so a new handler is declared once, on its service.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Iterable, Mapping

from models.api import NovaAPI
from models.compute import NovaCompute
from models.conductor import NovaConductor
from models.driver import STEPS as DRIVER_STEPS
from models.hosts import RESIZE_CLAIM
from models.scheduler_manager import NovaScheduler
from models.service import NovaService
from models.steps import NovaFunction

#: the services, by the short name a scenario uses (``services.compute``, faults)
SERVICES: Mapping[str, type[NovaService]] = MappingProxyType(
    {"api": NovaAPI, "conductor": NovaConductor, "scheduler": NovaScheduler, "compute": NovaCompute})

#: the operations of each service that may have their own ``service_time``: its
#: handlers, then its periodic tasks
SERVICE_OPERATIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {key: tuple(cls.rpc_handlers) + tuple(cls.periodic_tasks) for key, cls in SERVICES.items()})

#: the operator's handlers: they serve no request (no hop of a request's narration)
OPERATOR_HANDLERS = frozenset({"reboot_instance"})

#: the steps that begin a hop of a request: every handler and periodic task
HANDLERS = frozenset(name for ops in SERVICE_OPERATIONS.values() for name in ops) - OPERATOR_HANDLERS

#: the driver's timed work inside a handler, and what each does
DRIVER: Mapping[str, str] = MappingProxyType({name: step.does for name, step in DRIVER_STEPS.items()})

_FUNCTIONS: dict[tuple[str, str], NovaFunction] = {
    **{(cls.service, name): fn for cls in SERVICES.values()
       for name, fn in {**cls.rpc_handlers, **cls.periodic_tasks}.items()},
    **{("nova-compute", name): step.function for name, step in DRIVER_STEPS.items()},
    ("nova-compute", RESIZE_CLAIM.name): RESIZE_CLAIM.function,
}


def where(service: str, name: str) -> str:
    """``nova/compute/manager.py ComputeManager.prep_resize`` for a step, or ''."""
    f = _FUNCTIONS.get((service, name))
    return str(f) if f else ""


def topics(host_names: Iterable[str]) -> set[str]:
    """Every topic a message can be sent to in a cloud of these hosts."""
    return {NovaConductor.TOPIC, NovaScheduler.TOPIC} | {NovaCompute.TOPIC.format(host=h) for h in host_names}


def lane(service: str, host: str | None) -> str:
    """``nova-compute@cmp03``; controllers are named by their service alone."""
    if service == "client":
        return "user"
    return f"{service}@{host}" if service == NovaCompute.service else service
