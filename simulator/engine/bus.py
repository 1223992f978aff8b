"""A message bus with oslo.messaging's semantics, knowing nothing of Nova.

- ``cast(topic, method, ...)``: fire and forget; the message reaches the topic's
  consumer after one bus latency.
- ``call(topic, method, ...)``: returns an event the caller yields on. It succeeds
  with the callee's reply, fails with the callee's exception, or fails with
  ``MessagingTimeout`` when no reply came within ``timeout`` seconds. A reply that
  comes after the caller gave up is dropped, as oslo.messaging drops it; the callee
  is never told.
- ``call(..., monitor=m)``: oslo.messaging's call monitoring (``call_monitor_timeout``):
  the callee heartbeats every ``m / 2`` seconds while it handles the call, and the
  caller gives up ``m`` seconds after the send or after the last heartbeat, or after
  ``timeout`` in all. A call still queued for a worker, or whose handler was lost,
  sends none; the first comes ``m / 2`` after a worker takes the call, so a call
  queued longer than ``m / 2`` fails. Heartbeats are taken to arrive at once.
- Each topic has one consumer (a worker pool), whose queue depth is observable.

Latency is paid in transit; services never sleep for it. Sending to a topic that no
consumer listens on, or a method its consumer does not handle, is a wiring error
raised at once.
"""
from __future__ import annotations

import itertools
from functools import partial
from typing import Any, Callable, Protocol

import simpy

from simulator.engine.recorder import TraceRecorder


class MessagingTimeout(Exception):
    """No reply to an RPC call within the timeout (oslo.messaging's exception)."""


class Consumer(Protocol):
    """What a topic delivers to: a service's worker pool."""

    service: str
    host: str | None

    def deliver(self, msg: "Message") -> None: ...

    def queue_depth(self) -> int: ...

    def drop_queue(self) -> int: ...

    def handles(self, method: str) -> bool: ...


class Message:
    """One RPC message. ``ctx`` is the caller's request context (request, instance)."""

    __slots__ = ("id", "kind", "topic", "method", "args", "ctx", "sender", "sent_at",
                 "enqueued_at", "wait", "behind", "worker", "reply_event", "started_at", "ended_at", "traced",
                 "background")

    def __init__(self, id: int, kind: str, topic: str, method: str, args: dict[str, Any],
                 ctx: Any, sender: tuple[str, str | None], sent_at: float,
                 reply_event: simpy.Event | None = None, traced: bool = True):
        self.id = id
        self.kind = kind
        self.topic = topic
        self.method = method
        self.args = args
        self.ctx = ctx
        self.sender = sender
        self.sent_at = sent_at
        self.enqueued_at = sent_at
        self.wait = 0.0
        self.behind = 0
        self.worker = 0
        self.reply_event = reply_event
        #: when a worker began handling it, and when that handler ended (or was lost)
        self.started_at: float | None = None
        self.ended_at: float | None = None
        #: its hops are recorded in the trace (not so for high-volume traffic that
        #: its sender sums up itself)
        self.traced = traced
        #: background traffic: its transit (and its handler's work) never keeps a run
        #: alive by itself (``Environment.background``)
        self.background = False


class Broker:
    """The message broker's availability (RabbitMQ). While it is down, every message
    a sender sends, and every one in transit, waits with its sender, who retries: they
    go through when it is back (``back``). A restart loses the messages waiting in
    the queues."""

    def __init__(self, env: simpy.Environment, consumers: dict[str, Consumer]):
        self.env = env
        self._consumers = consumers
        self.down = False
        #: messages lost in queues at restarts
        self.lost = 0
        self._held: list[tuple[float, Callable[[simpy.Event], None]]] = []
        #: (sender, request) of the sends made while the broker is down
        self._blocked: set[tuple[tuple[str, str | None], int]] = set()
        #: succeeds when the broker is back
        self.back: simpy.Event = env.event()

    def hold(self, latency: float, arrive: Callable[[simpy.Event], None],
             sender: tuple[str, str | None] | None = None, ctx: Any = None) -> None:
        """Keep a message with its sender until the broker is back; it then takes
        ``latency`` to arrive. A new send (with its ``sender``) blocks that sender."""
        self._held.append((latency, arrive))
        if sender is not None:
            self._blocked.add((sender, id(ctx)))

    def holding(self) -> bool:
        """Whether senders hold messages for a broker that is down."""
        return bool(self._held)

    def blocks(self, sender: tuple[str, str | None], ctx: Any) -> bool:
        """Whether ``sender`` sent for ``ctx`` while the broker is down: its retries
        block it until the broker is back (``back``)."""
        return self.down and (sender, id(ctx)) in self._blocked

    def stop(self) -> int:
        """RabbitMQ goes down: every message waiting in a queue is lost. Returns how many."""
        self.down = True
        self.back = self.env.event()
        lost = 0
        for consumer in self._consumers.values():
            lost += consumer.drop_queue()
        self.lost += lost
        return lost

    def start(self) -> None:
        """RabbitMQ is back: the senders' retries go through."""
        self.down = False
        self._blocked.clear()
        held, self._held = self._held, []
        for latency, arrive in held:
            self.env.timeout(latency).callbacks.append(arrive)
        self.back.succeed()


class MessageBus:
    """Topics, consumers, in-transit latency, calls with timeouts, casts."""

    def __init__(self, env: simpy.Environment, latency: Callable[[], float], recorder: TraceRecorder):
        self.env = env
        self.latency = latency
        self.recorder = recorder
        self._consumers: dict[str, Consumer] = {}
        self._ids = itertools.count(1)
        self.sent = 0
        self.replies_dropped = 0
        self.lost = 0
        #: a fault plan with extra_latency(topic, now) and lose(topic, now), or None
        self.faults: Any = None
        self.broker = Broker(env, self._consumers)

    def next_id(self) -> int:
        """A fresh message id (also for messages that do not cross the bus, as HTTP)."""
        return next(self._ids)

    def register(self, topic: str, consumer: Consumer) -> None:
        if topic in self._consumers:
            raise ValueError(f"topic {topic!r} already has a consumer")
        self._consumers[topic] = consumer

    def consumer(self, topic: str) -> Consumer:
        try:
            return self._consumers[topic]
        except KeyError:
            raise LookupError(f"no consumer listens on topic {topic!r}") from None

    def queue_depth(self, topic: str) -> int:
        return self.consumer(topic).queue_depth()

    def cast(self, sender: tuple[str, str | None], topic: str, method: str,
             args: dict[str, Any], ctx: Any, traced: bool = True, background: bool = False) -> Message:
        """Send and forget (``traced``: record its hops in the trace; ``background``:
        periodic traffic that keeps no run alive)."""
        msg = Message(next(self._ids), "cast", topic, method, args, ctx, sender, self.env.now, traced=traced)
        msg.background = background
        self._send(msg, "rpc.cast")
        return msg

    def call(self, sender: tuple[str, str | None], topic: str, method: str,
             args: dict[str, Any], ctx: Any, timeout: float | None,
             monitor: float | None = None, traced: bool = True) -> simpy.Event:
        """Send and return the event of the reply (or of the timeout). ``monitor``:
        give up that long after the send or the callee's last heartbeat."""
        reply = self.env.event()
        msg = Message(next(self._ids), "call", topic, method, args, ctx, sender, self.env.now, reply, traced)
        self._send(msg, "rpc.call", timeout=timeout)
        if monitor is not None:
            first = monitor if timeout is None else min(monitor, timeout)
            self.env.timeout(first).callbacks.append(partial(self._watch, msg, timeout, monitor))
        elif timeout is not None:
            self.env.timeout(timeout).callbacks.append(partial(self._expire, msg, timeout))
        return reply

    def reply(self, msg: Message, sender: tuple[str, str | None], value: Any = None,
              error: BaseException | None = None,
              on_drop: Callable[[], None] | None = None,
              on_orphan: Callable[[], None] | None = None) -> None:
        """The callee answers ``msg``: a value, or the exception it raised.

        ``on_drop`` runs if the caller had already given up (the reply is dropped);
        ``on_orphan`` if the caller is gone (it crashed while waiting).
        """
        if msg.reply_event is None:
            raise ValueError("only a call can be replied to")
        ctx = msg.ctx
        latency = self.latency()
        if msg.traced:
            self.recorder.emit(self.env.now, ctx.request, ctx.instance, sender[0], sender[1],
                               "rpc.reply", msg.method, to_service=msg.sender[0], to_host=msg.sender[1],
                               msg=msg.id, error=type(error).__name__ if error else None,
                               attempt=ctx.attempt, arrives=round(self.env.now + latency, 6))
        self.sent += 1
        self._after(latency, partial(self._answer, msg, value, error, on_drop, on_orphan), sender, ctx)

    def summary(self) -> dict[str, int]:
        """Messages sent, replies dropped (their caller had given up), messages lost."""
        return {"messages": self.sent, "replies_dropped": self.replies_dropped,
                "lost": self.lost + self.broker.lost}

    def _send(self, msg: Message, event: str, timeout: float | None = None) -> None:
        consumer = self.consumer(msg.topic)
        if not consumer.handles(msg.method):
            raise LookupError(f"{consumer.service} on topic {msg.topic!r} has no handler {msg.method!r}")
        ctx = msg.ctx
        latency = self.latency()
        if self.faults is not None:
            extra = self.faults.extra_latency(msg.topic, self.env.now)
            if extra:
                latency += extra
                self.recorder.emit(self.env.now, ctx.request, ctx.instance, "broker", None, "fault",
                                   "message_delay", topic=msg.topic, msg=msg.id, method=msg.method,
                                   extra=round(extra, 6))
            if self.faults.lose(msg.topic, self.env.now):
                self.recorder.emit(self.env.now, ctx.request, ctx.instance, msg.sender[0], msg.sender[1],
                                   event, msg.method, topic=msg.topic, to_service=consumer.service,
                                   to_host=consumer.host, msg=msg.id, attempt=ctx.attempt, lost=True)
                self.recorder.emit(self.env.now, ctx.request, ctx.instance, "broker", None, "fault",
                                   "message_loss", topic=msg.topic, msg=msg.id, method=msg.method)
                self.sent += 1
                self.lost += 1
                return
        if msg.traced:
            self.recorder.emit(self.env.now, ctx.request, ctx.instance, msg.sender[0], msg.sender[1],
                               event, msg.method, topic=msg.topic, to_service=consumer.service,
                               to_host=consumer.host, msg=msg.id, attempt=ctx.attempt,
                               arrives=round(self.env.now + latency, 6))
        self.sent += 1
        if msg.background and not self.broker.down:
            self.env.background(latency).callbacks.append(partial(self._deliver, consumer, msg))
            return
        self._after(latency, partial(self._deliver, consumer, msg), msg.sender, ctx)

    def _after(self, latency: float, arrive: Callable[[simpy.Event], None],
               sender: tuple[str, str | None], ctx: Any) -> None:
        """A message in transit; while the broker is down its sender holds it (retrying)."""
        if self.broker.down:
            self.broker.hold(latency, arrive, sender, ctx)
            return
        self.env.timeout(latency).callbacks.append(arrive)

    def _deliver(self, consumer: Consumer, msg: Message, ev: simpy.Event) -> None:
        if self.broker.down:  # in transit when the broker stopped: the retry goes later
            self.broker.hold(0.0, partial(self._deliver, consumer, msg))
            return
        consumer.deliver(msg)

    def _answer(self, msg: Message, value: Any, error: BaseException | None,
                on_drop: Callable[[], None] | None, on_orphan: Callable[[], None] | None,
                _ev: simpy.Event) -> None:
        if self.broker.down:
            self.broker.hold(0.0, partial(self._answer, msg, value, error, on_drop, on_orphan))
            return
        reply = msg.reply_event
        if reply.triggered:
            self.replies_dropped += 1
            if on_drop is not None:
                on_drop()
            return
        if not reply.callbacks and on_orphan is not None:  # nobody waits any more
            on_orphan()
        if error is not None:
            reply.defused = True  # the caller may be gone (crashed): not an error of ours
            reply.fail(error)
        else:
            reply.succeed(value)

    def _watch(self, msg: Message, timeout: float | None, monitor: float, _ev: simpy.Event) -> None:
        """The caller's call-monitor timer: fail the call when no heartbeat came in
        ``monitor`` seconds, or ``timeout`` has passed; else look again when the
        latest heartbeat's window closes."""
        reply = msg.reply_event
        if reply.triggered:
            return
        now = self.env.now
        last = msg.sent_at
        start = msg.started_at
        if start is not None:
            interval = monitor / 2.0
            end = now if msg.ended_at is None else msg.ended_at
            beats = int((end - start) // interval)
            if beats > 0:
                last = max(last, start + beats * interval)
        expiry = last + monitor
        if timeout is not None:
            expiry = min(expiry, msg.sent_at + timeout)
        if expiry - now > 1e-9:
            self.env.timeout(expiry - now).callbacks.append(partial(self._watch, msg, timeout, monitor))
            return
        reply.defused = True
        if timeout is not None and now - msg.sent_at >= timeout - 1e-9:
            why = f"{timeout:g} s"
        else:
            why = f"no heartbeat in {monitor:g} s"
        reply.fail(MessagingTimeout(f"Timed out waiting for a reply to message ID {msg.id} ({msg.method}, {why})"))

    def _expire(self, msg: Message, timeout: float, _ev: simpy.Event) -> None:
        reply = msg.reply_event
        if not reply.triggered:
            reply.defused = True
            reply.fail(MessagingTimeout(
                f"Timed out waiting for a reply to message ID {msg.id} ({msg.method}, {timeout:g} s)"))
