"""Nova's notifications in the format a deployment emits (``notification_format``).

The services name each notification by its versioned event type (``instance.resize.start``);
this says what goes out: the legacy (unversioned) event type, the versioned one, or
both (reference section 4). Kilo had only the legacy ones; Nova's default has been
``unversioned`` since Train, so both releases default to legacy names, and a scenario
may ask for ``versioned`` (Kilo too, to compare with Nova's functional tests) or ``both``.

Legacy names differ in places: ``compute.instance.resize.prep.start`` for
``instance.resize_prep.start``, ``compute.instance.finish_resize.*`` for
``instance.resize_finish.*``; the conductor's error is ``compute_task.migrate_server``;
an exception escaping a compute RPC method is an ERROR notification named after the
method (``wrap_exception``), the legacy counterpart of ``compute.exception``.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

FORMATS: tuple[str, ...] = ("unversioned", "versioned", "both")

#: versioned event type → legacy event type (``compute.exception``: the method's name)
LEGACY: Mapping[str, str] = MappingProxyType({
    "scheduler.select_destinations.start": "scheduler.select_destinations.start",
    "scheduler.select_destinations.end": "scheduler.select_destinations.end",
    "instance.exists": "compute.instance.exists",
    "instance.resize_prep.start": "compute.instance.resize.prep.start",
    "instance.resize_prep.end": "compute.instance.resize.prep.end",
    "instance.resize.start": "compute.instance.resize.start",
    "instance.resize.end": "compute.instance.resize.end",
    "instance.resize.error": "compute.instance.resize.error",
    "instance.resize_finish.start": "compute.instance.finish_resize.start",
    "instance.resize_finish.end": "compute.instance.finish_resize.end",
    "instance.resize_confirm.start": "compute.instance.resize.confirm.start",
    "instance.resize_confirm.end": "compute.instance.resize.confirm.end",
    "instance.resize_revert.start": "compute.instance.resize.revert.start",
    "instance.resize_revert.end": "compute.instance.resize.revert.end",
    "compute_task.migrate_server.error": "compute_task.migrate_server",
})

#: the versioned name of an exception escaping a compute RPC method
COMPUTE_EXCEPTION = "compute.exception"


class NotificationFormat:
    """Which names a notification goes out under, in the order Nova sends them
    (legacy first: ``notify_about_instance_usage`` precedes the versioned call)."""

    def __init__(self, fmt: str):
        if fmt not in FORMATS:
            raise ValueError(f"unknown notification_format {fmt!r}")
        self.format = fmt
        self._legacy = fmt != "versioned"
        self._versioned = fmt != "unversioned"
        self._names: dict[tuple[str, str | None], tuple[tuple[str, str], ...]] = {}

    def names(self, event_type: str, method: str | None) -> tuple[tuple[str, str], ...]:
        """(format, name) of each notification sent for ``event_type``; ``method``:
        the RPC method the sender is handling (names a legacy exception)."""
        key = (event_type, method if event_type == COMPUTE_EXCEPTION else None)
        got = self._names.get(key)
        if got is None:
            out = []
            if self._legacy:
                legacy = (method or event_type) if event_type == COMPUTE_EXCEPTION else LEGACY[event_type]
                out.append(("unversioned", legacy))
            if self._versioned:
                out.append(("versioned", event_type))
            got = self._names[key] = tuple(out)
        return got
