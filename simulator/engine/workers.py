"""A pool of workers consuming one queue: the shape of every Nova service.

A job waits in the queue until a worker is free; the worker is then held for the
whole handler, including the calls it makes and the timed work it waits on. Workers
are taken round-robin, so each job knows which worker (a scheduler process, an
executor thread) ran it. Idle workers cost nothing: a handler process exists only
while a job runs, so thousands of hosts with 64 threads each stay cheap.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Generator

import simpy

from simulator.engine.monitor import Level, Tally

Handler = Callable[[Any, int], Generator[Any, Any, Any]]


class WorkerPool:
    """``workers`` workers taking jobs first come, first served."""

    def __init__(self, env: simpy.Environment, name: str, workers: int, handler: Handler):
        self.env = env
        self.name = name
        self.workers = workers
        self.handler = handler
        self.queue: deque[Any] = deque()
        #: workers back from a job, in the order they came back; the workers never used
        #: yet are ``_fresh`` … ``workers - 1`` (taken first, so a pool of a million
        #: workers costs no more than one of four)
        self._free: deque[int] = deque()
        self._fresh = 0
        self.busy = Level(env.now)
        self.queued = Level(env.now)
        self.waits = Tally()
        #: (time, queue length) at every change, when a timeline asks for it
        self.depth_series: list[tuple[float, int]] | None = None
        #: a stopped pool keeps its queue but starts nothing (the process is down)
        self.stopped = False
        self._running: dict[int, simpy.Process] = {}
        self.lost = 0
        #: a job's work done without a process, for high-volume jobs that only take
        #: time: returns (seconds, what to do at the end, whether it is background
        #: work), or None for a job the handler runs as usual
        self.timed: Callable[[Any], tuple[float, Callable[[], None] | None, bool] | None] | None = None
        self._timed_running: dict[int, Any] = {}

    def submit(self, job: Any) -> None:
        """Hand a job to a free worker, or queue it behind the others."""
        job.enqueued_at = self.env.now
        job.behind = len(self.queue)
        if self.has_free() and not self.stopped:
            self._start(job, self._take())
        else:
            self.queue.append(job)
            self.queued.set(self.env.now, len(self.queue))
            if self.depth_series is not None:
                self.depth_series.append((self.env.now, len(self.queue)))

    def has_free(self) -> bool:
        return self._fresh < self.workers or bool(self._free)

    def _take(self) -> int:
        """The next free worker, round-robin: the never used ones first, in order,
        then those back from a job, longest idle first."""
        if self._fresh < self.workers:
            self._fresh += 1
            return self._fresh - 1
        return self._free.popleft()

    def queue_depth(self) -> int:
        return len(self.queue)

    def holds_foreground(self) -> bool:
        """Whether a job that is not background traffic waits in this running pool for
        a worker that background work holds (only the end of that work frees one)."""
        return (not self.stopped and any(getattr(j, "background", False) for j in self._timed_running.values())
                and any(not getattr(j, "background", False) for j in self.queue))

    def drop_queue(self) -> int:
        """Lose every job waiting (the broker restarted); return how many."""
        n = len(self.queue)
        self.queue.clear()
        self.queued.set(self.env.now, 0)
        return n

    def _start(self, job: Any, worker: int) -> None:
        now = self.env.now
        job.wait = now - job.enqueued_at
        job.worker = worker
        job.started_at = now
        self.waits.add(job.wait)
        self.busy.add(now, 1)
        work = self.timed(job) if self.timed is not None else None
        if work is not None:
            seconds, then, background = work
            self._timed_running[worker] = job
            ev = self.env.background(seconds) if background else self.env.timeout(seconds)
            ev.callbacks.append(lambda _ev: self._timed_done(job, worker, then))
            return
        self._running[worker] = self.env.process(self._run(job, worker))

    def _timed_done(self, job: Any, worker: int, then: Callable[[], None] | None) -> None:
        if self._timed_running.get(worker) is not job:
            return  # lost in a crash meanwhile
        del self._timed_running[worker]
        if then is not None:
            then()
        self._finished(job, worker)

    def stop(self) -> None:
        """The process crashes: handlers in progress are lost (their messages were
        acknowledged before handling), queued messages stay, nothing new starts."""
        self.stopped = True
        for proc in list(self._running.values()):
            if proc.is_alive:
                proc.interrupt("crash")
        for worker, job in list(self._timed_running.items()):
            del self._timed_running[worker]
            self.lost += 1
            self._finished(job, worker)

    def start(self) -> None:
        """The process is back: it consumes its queue again, in order."""
        self.stopped = False
        while self.has_free() and self.queue:
            job = self.queue.popleft()
            self.queued.set(self.env.now, len(self.queue))
            self._start(job, self._take())

    def _run(self, job: Any, worker: int) -> Generator[Any, Any, None]:
        try:
            yield from self.handler(job, worker)
        except simpy.Interrupt:
            self.lost += 1
        finally:
            self._running.pop(worker, None)
            self._finished(job, worker)

    def _finished(self, job: Any, worker: int) -> None:
        """The worker is free: it takes the next job queued, if any."""
        now = self.env.now
        job.ended_at = now
        self.busy.add(now, -1)
        if self.queue and not self.stopped:
            nxt = self.queue.popleft()
            self.queued.set(now, len(self.queue))
            if self.depth_series is not None:
                self.depth_series.append((now, len(self.queue)))
            self._start(nxt, worker)
        else:
            self._free.append(worker)
