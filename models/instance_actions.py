"""Nova's instance actions: what ``openstack server event list`` shows (reference
section 13).

nova-api records an action (``InstanceAction.action_start``: ``resize``, ``migrate``,
``confirmResize``, ``revertResize``) under the request's ``request_id`` before it hands
the work on; the services record events under the same request_id as their handlers
run (``wrap_instance_event`` / ``EventReporter``): ``conductor_migrate_server`` (modern)
and ``cold_migrate`` in the conductor, ``compute_<method>`` on the computes. An event
starts as its handler is entered and finishes as it returns: ``Success``, or ``Error``
when Nova's exception escaped it (which sets the action's message to ``Error``).

Nova's ``action_event_finish`` updates the *first* event of that name in the action,
so after a reschedule the second ``compute_prep_resize`` keeps no finish time and the
first one takes the last finish: recorded as Nova records it.
"""
from __future__ import annotations

import random
import uuid
from typing import Any, NamedTuple

#: the API's action names (``nova/compute/instance_actions.py``)
RESIZE, MIGRATE, CONFIRM_RESIZE, REVERT_RESIZE = "resize", "migrate", "confirmResize", "revertResize"


class InstanceActionRow(NamedTuple):
    """A row of instance_actions.csv: one action, as the API lists it (``finish``: the
    last event's finish, Nova's ``updated_at``; ``result``: ``Error`` when an event
    failed, ``Success`` when all have finished, empty while one is open)."""

    request: int
    instance: str
    action: str
    request_id: str
    start: float
    finish: float | None
    result: str | None


class ActionEventRow(NamedTuple):
    """A row of instance_action_events.csv: one event of an action (``host``: empty
    before Pike, which first recorded it)."""

    request: int
    request_id: str
    action: str
    event: str
    host: str | None
    start: float
    finish: float | None
    result: str | None


class _Event:
    __slots__ = ("event", "host", "start", "finish", "result")

    def __init__(self, event: str, host: str | None, start: float):
        self.event = event
        self.host = host
        self.start = start
        self.finish: float | None = None
        self.result: str | None = None


class _Action:
    __slots__ = ("request", "instance", "action", "request_id", "start", "updated", "error", "events")

    def __init__(self, request: int, instance: str, action: str, request_id: str, start: float):
        self.request = request
        self.instance = instance
        self.action = action
        self.request_id = request_id
        self.start = start
        self.updated: float | None = None
        self.error = False
        self.events: list[_Event] = []


class InstanceActions:
    """The instance_actions and instance_actions_events tables of one run."""

    def __init__(self, rng: random.Random, records_host: bool):
        self.rng = rng
        self.records_host = records_host
        self._actions: list[_Action] = []
        self._by_key: dict[tuple[str, str], _Action] = {}

    def new_request_id(self) -> str:
        """A request context's id (``req-<uuid4>``), drawn from the run's seed."""
        return f"req-{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def action_start(self, request: int, instance: str, action: str, request_id: str, now: float) -> None:
        """nova-api records ``action`` for ``instance`` under ``request_id``."""
        act = _Action(request, instance, action, request_id, now)
        self._actions.append(act)
        self._by_key[(instance, request_id)] = act

    def event_start(self, instance: str, request_id: str | None, event: str, host: str | None, now: float) -> bool:
        """A handler records the start of ``event``; False when there is no action to
        record it in (a context with no action, e.g. a handler of another kind)."""
        act = self._by_key.get((instance, request_id)) if request_id is not None else None
        if act is None:
            return False
        act.events.append(_Event(event, host if self.records_host else None, now))
        return True

    def event_finish(self, instance: str, request_id: str, event: str, now: float, error: bool) -> None:
        """The handler returned (``error``: Nova's exception escaped it): the first event
        of that name in the action takes the finish, as ``action_event_finish`` does."""
        act = self._by_key[(instance, request_id)]
        first = next(e for e in act.events if e.event == event)
        first.finish = now
        first.result = "Error" if error else "Success"
        act.updated = now
        if error:
            act.error = True

    def action_rows(self) -> list[InstanceActionRow]:
        """instance_actions.csv, in the order the actions started."""
        rows = []
        for a in self._actions:
            if a.error:
                result = "Error"
            elif a.events and all(self._first(a, name).finish is not None for name in {e.event for e in a.events}):
                result = "Success"
            else:
                result = None
            rows.append(InstanceActionRow(a.request, a.instance, a.action, a.request_id, round(a.start, 6),
                                  None if a.updated is None else round(a.updated, 6), result))
        return rows

    def event_rows(self) -> list[ActionEventRow]:
        """instance_action_events.csv, by action, each action's events in the order they started."""
        return [ActionEventRow(a.request, a.request_id, a.action, e.event, e.host, round(e.start, 6),
                         None if e.finish is None else round(e.finish, 6), e.result)
                for a in self._actions for e in a.events]

    @staticmethod
    def _first(a: _Action, name: str) -> _Event:
        return next(e for e in a.events if e.event == name)


class EventReporter:
    """A service's ``wrap_instance_event`` / ``EventReporter``: the events its handlers
    record, by RPC method (outermost first), under the request_id the message carries."""

    def __init__(self, actions: InstanceActions, host: str, names: dict[str, tuple[str, ...]]):
        self.actions = actions
        self.host = host
        self.names = names
        #: the messages whose handler let Nova's exception escape
        self._escaped: set[int] = set()

    def start(self, msg: Any, now: float) -> tuple[str, tuple[str, ...]] | None:
        """The handler of ``msg`` is entered: its events start. Returns (request_id,
        the events started) for ``finish``, or None when it records none."""
        names = self.names.get(msg.method)
        rid = msg.ctx.request_id
        if not names or rid is None:
            return None
        actions, inst = self.actions, msg.ctx.instance
        started = tuple(e for e in names if actions.event_start(inst, rid, e, self.host, now))
        return (rid, started) if started else None

    def finish(self, msg: Any, started: tuple[str, tuple[str, ...]], now: float) -> None:
        """The handler returned: its events finish, innermost first, ``Error`` if it
        let Nova's exception escape."""
        rid, names = started
        error = msg.id in self._escaped
        self._escaped.discard(msg.id)
        for e in reversed(names):
            self.actions.event_finish(msg.ctx.instance, rid, e, now, error)

    def raised(self, msg: Any) -> None:
        """The handler of ``msg`` lets Nova's exception escape."""
        self._escaped.add(msg.id)
