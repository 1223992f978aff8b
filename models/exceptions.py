"""The exceptions of Nova (and the libraries under it) that a move can end with.

Their class names are what requests.csv's ``reason`` and the trace's
``instance_fault`` events say, as Nova's instance faults and notifications name them.
"""
from __future__ import annotations

from simulator.engine.bus import MessagingTimeout


class NoValidHost(Exception):
    """No host passed the filters (nova.exception.NoValidHost)."""

    def __init__(self, reason: str = "No valid host was found.", filters: list | None = None,
                 removed: dict[str, list[int]] | None = None):
        super().__init__(reason)
        #: each filter's verdict, (name, hosts in, hosts out)
        self.filters = filters or []
        #: per filter, the hosts it removed (when the scheduler was asked to explain)
        self.removed = removed or {}


class MaxRetriesExceeded(NoValidHost):
    """The request was scheduled ``max_attempts`` times already."""


class ComputeResourcesUnavailable(Exception):
    """A claim that does not fit (nova.exception.ComputeResourcesUnavailable)."""


class InstanceInvalidState(Exception):
    """409: the instance is not ACTIVE/STOPPED with no task (or not RESIZED to confirm)."""


class CannotResizeToSameFlavor(Exception):
    """400: a resize to the flavor the instance already has."""


class TooManyInstances(Exception):
    """403: the upsize exceeds the project's quota (Kilo's exception name)."""


class ServiceUnavailable(Exception):
    """409: the instance's nova-compute is seen down (modern ``check_instance_host``)."""


class ResizeError(Exception):
    """The driver refused the resize: a disk shrink, or the ssh ``mkdir`` on the
    destination failing (``not able to execute ssh command``)."""


class ProcessExecutionError(Exception):
    """A command on the host failed (ssh / scp / rsync), as oslo.concurrency raises it."""


class InstancePowerOffFailure(Exception):
    """The driver could not destroy the guest."""


class LibvirtError(Exception):
    """libvirt could not start the domain (libvirt.libvirtError)."""


class UnexpectedTaskStateError(Exception):
    """``instance.save(expected_task_state=...)`` found another task state."""


#: the reason of a Kilo request whose API call to the conductor timed out (HTTP 500)
API_TIMEOUT = MessagingTimeout.__name__
#: the reason of a move that init_host rolled back on a restarted source
RESET_ON_STARTUP = "ResetOnStartup"

#: every reason a request can end with that names an exception (sweep metrics
#: ``requests.by_reason.<reason>``)
REASONS: tuple[str, ...] = tuple(e.__name__ for e in (
    NoValidHost, InstanceInvalidState, ServiceUnavailable, CannotResizeToSameFlavor, TooManyInstances,
    ComputeResourcesUnavailable, MaxRetriesExceeded, ResizeError, MessagingTimeout,
    UnexpectedTaskStateError, ProcessExecutionError, InstancePowerOffFailure, LibvirtError)) + (RESET_ON_STARTUP,)
