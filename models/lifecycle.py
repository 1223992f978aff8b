"""The book of requests: each one from its arrival to exactly one final status.

A request *ends* when nothing more will come for it from the pipeline, and *settles*
once nova-api has also answered it and handled the user's scheduled confirm or
revert, if any. The run is over when every request has settled and nothing else the
run waits for (``hold``: a handler at work, a resource audit still to come) is left.
At the end of the run ``close`` names what is still open: in flight (stopped by
``--until``) or stuck, with the state its instance was left in.

The quota effects of a move's outcome are booked here too: a failed move rolls its
reservation back, VERIFY_RESIZE commits it, a confirm takes a downsize's delta off,
a revert gives the upsize back.
"""
from __future__ import annotations

from typing import Any, Callable

from models import states
from models.exceptions import API_TIMEOUT
from models.quota import Quotas
from models.request import Request
from simulator.engine.environment import Environment


class RequestBook:
    """The requests of a run and what became of them."""

    def __init__(self, env: Environment, quotas: Quotas, expected: int, auto_confirm: bool):
        self.env = env
        self.quotas = quotas
        #: every request that has arrived, in order of arrival (numbered from 1)
        self.requests: list[Request] = []
        #: how many requests have not settled yet (arrived or still to arrive)
        self.open = expected
        #: things still to come that no request waits for (a handler at work, a
        #: resource audit after a crash): the run waits for them too
        self.pending = 0
        self.auto_confirm = auto_confirm
        #: succeeds when the run is over
        self.done = env.event()
        #: called with each request as it settles (a progress bar)
        self.on_settle: Callable[[Request], None] | None = None
        #: the users' answer at VERIFY_RESIZE: whether they will confirm or revert
        #: (set by the build step: the workload's ``at_verify_resize``)
        self.user_action: Callable[[Request], bool] = lambda req: False
        self._looking = False
        if self.open == 0:
            self.done.succeed()

    def arrive(self, req: Request) -> None:
        self.requests.append(req)

    def finish(self, req: Request, status: str, reason: str | None = None) -> None:
        """The request has reached a final status; nothing more will come for it."""
        if req.ended:
            return
        if status in ("error", "rejected") and any(req.quota_delta):
            # the move failed: its quota reservation is rolled back
            self.quotas.rollback(req.target.project, req.quota_delta)
            req.quota_delta = (0, 0)
        req.status = status
        if reason is not None and req.reason != API_TIMEOUT:
            # a Kilo API call that timed out keeps that reason whatever its move became
            req.reason = reason
        if req.finished is None:
            req.stop_clock(self.env.now)
        self._end(req)

    def verify_resize(self, req: Request) -> None:
        """The instance is in VERIFY_RESIZE: the request's latency ends here, and the
        user's confirm or revert (if any) is to come."""
        if req.ended:
            return
        req.stop_clock(self.env.now)
        req.status = "resized"
        if any(req.quota_delta):  # finish_resize commits the upsize reservation
            self.quotas.commit(req.target.project, req.quota_delta)
        if not self.user_action(req) and not self.auto_confirm:
            self._end(req)

    def confirmed(self, req: Request) -> None:
        req.confirm = self.env.now - req.confirm_started
        m = req.target.migration
        down = (min(0, m.new_flavor.vcpus - m.old_flavor.vcpus), min(0, m.new_flavor.ram_mb - m.old_flavor.ram_mb))
        if any(down) and not self.quotas.counted:  # a downsize's quota delta is committed at confirm
            self.quotas.adjust(req.target.project, *down)
        self.finish(req, "confirmed")

    def reverted(self, req: Request) -> None:
        req.revert = self.env.now - req.revert_started
        if any(req.quota_delta):  # the committed upsize is given back
            self.quotas.adjust(req.target.project, -req.quota_delta[0], -req.quota_delta[1])
        self.finish(req, "reverted")

    def api_timed_out(self, req: Request) -> None:
        """nova-api gave up on the conductor (HTTP 500); the move may still go on."""
        if not req.settled and req.reason is None:
            req.reason = API_TIMEOUT

    def answered(self, req: Request) -> None:
        """nova-api has sent its HTTP answer for the move."""
        if req.ended:
            self._end(req)

    def action_done(self, req: Request) -> None:
        """nova-api has handled the user's confirm or revert (accepted or refused)."""
        req.action_pending = False
        if req.ended:
            self._end(req)

    def _end(self, req: Request) -> None:
        """Nothing more comes from the pipeline; the request settles once nova-api has
        answered it and handled the user's scheduled confirm or revert, if any."""
        req.ended = True
        if req.http_status is not None and not req.action_pending:
            self._settle(req)

    def _settle(self, req: Request) -> None:
        if req.settled:
            return
        req.settled = True
        self.open -= 1
        if self.on_settle is not None:
            self.on_settle(req)
        self._maybe_done()

    def hold(self) -> None:
        """Something the run must wait for has begun."""
        self.pending += 1

    def unhold(self) -> None:
        """It is over."""
        self.pending -= 1
        self._maybe_done()

    def _maybe_done(self) -> None:
        """Nothing is open: the run is over, unless something begins in this same
        instant (a handler taking the next message as the last one ends): looked at
        again once the instant's other events have run."""
        if self.open == 0 and self.pending == 0 and not self.done.triggered and not self._looking:
            self._looking = True

            def look_again(_ev: Any) -> None:
                self._looking = False
                if self.open == 0 and self.pending == 0 and not self.done.triggered:
                    self.done.succeed()
            self.env.timeout(0).callbacks.append(look_again)

    def close(self, stopped_early: bool) -> None:
        """At the end of the run, name what is still open. Stopped by ``--until``: in
        flight (or resized, if only its confirm was to come). Stopped because nothing
        was left to happen: stuck, with the state the instance was left in."""
        for req in self.requests:
            m = req.target.migration if req.target is not None else None
            if (not req.settled and not stopped_early and req.status == "resized" and m is not None
                    and m.request is req and m.status in (states.CONFIRMING, states.REVERTING)):
                # the confirm or revert was under way and nothing will finish it
                req.status, req.reason = "stuck", f"migration {m.status}"
                req.settled = True
                continue
            if not req.settled:
                if not req.ended and req.status != "resized":
                    if stopped_early:
                        req.status = "in_flight"
                    else:
                        inst = req.target
                        req.status = "stuck"
                        if req.source is None:  # nova-api never took it (down for good)
                            req.reason = "never handled by nova-api"
                        elif req.reason != API_TIMEOUT and (req.reason is None or not inst.task_state):
                            req.reason = _left_as(req, inst, m)
                        if req.finished is None:
                            req.stop_clock(self.env.now)
                req.settled = True


def _left_as(req: Request, inst: Any, m: Any) -> str:
    """What a stuck request's instance was left in, for its reason."""
    if inst.task_state:
        return f"task_state {inst.task_state}"
    if m is not None and m.request is req:
        return f"migration {m.status} (instance {inst.vm_state}, no task)"
    if req.prep_cleared:
        return f"resize_prep cleared by init_host (instance {inst.vm_state}, no task)"
    return f"abandoned (instance {inst.vm_state}, no task)"
