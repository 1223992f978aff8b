"""A user's request and what became of it: one row of requests.csv.

The request is also the RPC context every message carries (request id, instance,
attempt); an operator's action carries an ``ActionContext`` instead. Its latency is split into phases along the critical path: each phase
starts when the message that begins it is sent (time in transit counts to the phase
that receives it), so the phases up to ``finish_resize`` add up to the latency.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Union

if TYPE_CHECKING:
    from models.objects import Instance, Migration
    from models.scheduler import SchedulingRecord

#: phases of the critical path, in pipeline order; they add up to ``latency``
PHASES = ("api", "conductor", "scheduler", "prep_resize", "resize_instance", "power_off",
          "disk_copy", "finish_resize")

#: columns of requests.csv, in order
COLUMNS = ("request", "instance", "op", "flavor_old", "flavor_new", "source", "dest",
           "submitted", "finished", "status", "reason", "http_status", "latency", "attempts",
           *PHASES, "confirm", "revert", "queue_wait", "time_to_ready")


class Request:
    """One resize or migrate request from arrival at nova-api to its final status."""

    __slots__ = ("request", "instance", "op", "flavor_old", "flavor_new", "source", "dest",
                 "submitted", "finished", "status", "reason", "http_status", "attempts",
                 "phases", "_phase", "_mark", "confirm_started", "confirm", "queue_wait",
                 "confirm_after", "workload", "target", "attempt", "settled",
                 "requested_host", "ended", "revert_after", "revert_chance", "revert_started",
                 "revert", "action", "quota_delta", "explain", "action_pending", "migration",
                 "allocation", "prep_cleared", "ready", "request_id")

    def __init__(self, request: int, op: str, submitted: float, workload: int):
        self.request = request
        self.op = op
        self.instance: str | None = None
        self.target: "Instance" = None  # type: ignore[assignment]  # set on arrival
        self.flavor_old: str | None = None
        self.flavor_new: str | None = None
        self.source: str | None = None
        self.dest: str | None = None
        self.submitted = submitted
        self.finished: float | None = None
        self.status: str | None = None
        self.reason: str | None = None
        self.http_status: int | None = None
        self.attempts = 0
        #: the scheduling attempt the pipeline is on (trace events carry it)
        self.attempt = 1
        self.phases = dict.fromkeys(PHASES, 0.0)
        self._phase: str | None = "api"
        self._mark = submitted
        self.confirm_started: float | None = None
        self.confirm: float | None = None
        self.queue_wait = 0.0
        self.confirm_after: float | None = None
        self.workload = workload
        self.settled = False
        self.requested_host: str | None = None
        #: nothing more will come from the pipeline (the HTTP answer may still be on its way)
        self.ended = False
        self.revert_after: float | None = None
        #: the chance that the action at confirm_after is a revert (flipped at VERIFY_RESIZE)
        self.revert_chance = 0.0
        self.revert_started: float | None = None
        self.revert: float | None = None
        #: the user's action at VERIFY_RESIZE: "confirm_resize", "revert_resize" or None
        self.action: str | None = None
        self.action_pending = False
        #: this request's own Migration record (the instance's may be a newer one)
        self.migration: "Migration | None" = None
        #: (host, flavor) placement holds for this request while the scheduler's reply
        #: is on its way (modern Nova); None once the conductor has it
        self.allocation: Any = None
        self.quota_delta: tuple[int, int] = (0, 0)
        #: full scheduling records (hosts removed per filter), for explain / step
        self.explain: list["SchedulingRecord"] = []
        #: a restarted compute's init_host cleared this request's resize_prep
        self.prep_cleared = False
        #: when the guest OS was up on the destination (finish_resize + guest.os_boot)
        self.ready: float | None = None
        #: the request context's id the messages carry now (the move's, then its
        #: confirm's or revert's), under which its instance actions are recorded
        self.request_id: str | None = None

    def enter(self, phase: str, now: float) -> None:
        """The critical path moves on to ``phase`` at ``now``."""
        if self._phase is not None:
            self.phases[self._phase] += now - self._mark
        self._phase = phase
        self._mark = now

    def stop_clock(self, now: float) -> None:
        """The instance reached VERIFY_RESIZE or its final state: latency ends."""
        if self._phase is not None:
            self.phases[self._phase] += now - self._mark
        self._phase = None
        self.finished = now

    @property
    def latency(self) -> float | None:
        return None if self.finished is None else self.finished - self.submitted

    def row(self) -> dict[str, Any]:
        r = {c: getattr(self, c, None) for c in COLUMNS if c not in self.phases}
        r["latency"] = self.latency
        r["time_to_ready"] = None if self.ready is None else self.ready - self.submitted
        r.update(self.phases)
        return {c: r[c] for c in COLUMNS}


class ActionContext:
    """The context an operator's message carries (it belongs to no request);
    ``done`` is called when the compute has carried the action out."""

    __slots__ = ("request", "instance", "attempt", "target", "queue_wait", "migration", "done", "request_id")

    def __init__(self, inst: "Instance", done: Callable[["Instance"], None]):
        self.request = None
        self.instance = inst.name
        self.attempt = None
        self.target = inst
        self.queue_wait = 0.0
        self.migration = None
        self.done = done
        self.request_id = None


#: what a message's context is: a user's request, or an operator's action
Context = Union[Request, ActionContext]
