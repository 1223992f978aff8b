"""timeline.json: the whole run in the Chrome / Perfetto trace-event format.

Open it in ui.perfetto.dev (Open trace file) or chrome://tracing. One process per
service (nova-api, nova-conductor, nova-scheduler, one per compute host), one thread
per worker; a slice per handler with the driver's work nested inside; flow arrows
from each message's sender to the handler that received it, so a request's hops can
be followed; a counter of each service's queue length.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from models.catalog import DRIVER, HANDLERS, lane

US = 1e6


def _us(t: float) -> float:
    """Simulated seconds as trace microseconds, rounded once so that slices that
    touch in the simulation touch in the file."""
    return round(t * US, 3)


def build_timeline(records: Iterable[dict[str, Any]], queues: dict[str, list[tuple[float, int]]]) -> dict[str, Any]:
    """The trace-event document for a run's trace records and queue-length series."""
    pids: dict[str, int] = {}
    events: list[dict[str, Any]] = []

    def pid(name: str) -> int:
        if name not in pids:
            pids[name] = len(pids) + 1
            events.append({"ph": "M", "name": "process_name", "pid": pids[name], "tid": 0,
                           "args": {"name": name}})
            events.append({"ph": "M", "name": "process_sort_index", "pid": pids[name], "tid": 0,
                           "args": {"sort_index": pids[name]}})
        return pids[name]

    for fixed in ("user", "nova-api", "nova-conductor", "nova-scheduler"):
        pid(fixed)
    threads: set[tuple[int, int]] = set()
    http_open: dict[tuple[Any, str], dict[str, Any]] = {}
    open_steps: dict[tuple[str, int], dict[str, Any]] = {}   # (lane, msg) → the start record
    open_driver: dict[tuple[str, str, Any], dict[str, Any]] = {}
    worker_of: dict[tuple[str, int | None], int] = {}         # (lane, request) → worker running it
    sent: dict[int, dict[str, Any]] = {}
    for r in records:
        ev, name = r["event"], r["name"]
        here = lane(r["service"], r["host"])
        if ev in ("rpc.call", "rpc.cast", "http.request"):
            sent[r["msg"]] = r
            if ev == "http.request":
                http_open[(r["request"], name)] = r
        elif ev == "http.response":
            start = http_open.pop((r["request"], name), None)
            if start is not None:  # the user's side: from the request to the answer
                events.append({"ph": "X", "name": f"HTTP {name}", "cat": "user", "ts": _us(start["t"]),
                               "dur": _us(r["t"]) - _us(start["t"]), "pid": pid("user"), "tid": r["request"],
                               "args": {"request": r["request"], "instance": r["instance"],
                                        "status": r.get("status")}})
                threads.add((pid("user"), r["request"]))
        elif ev == "step.start" and name in HANDLERS and "msg" in r:
            open_steps[(here, r["msg"])] = r
            worker_of[(here, r["request"])] = r.get("worker", 0)
            src = sent.get(r["msg"])
            if src is not None:  # a flow arrow from the sender to this handler
                s_lane = lane(src["service"], src["host"])
                s_tid = worker_of.get((s_lane, r["request"]), 0) if s_lane != "user" else r["request"]
                events.append({"ph": "s", "id": r["msg"], "name": src["name"], "cat": "rpc",
                               "ts": _us(src["t"]), "pid": pid(s_lane), "tid": s_tid})
                events.append({"ph": "f", "bp": "e", "id": r["msg"], "name": src["name"], "cat": "rpc",
                               "ts": _us(r["t"]), "pid": pid(here), "tid": r.get("worker", 0)})
        elif ev == "step.end" and name in HANDLERS and "msg" in r:
            start = open_steps.pop((here, r["msg"]), None)
            if start is not None:
                threads.add((pid(here), r.get("worker", 0)))
                events.append({"ph": "X", "name": name, "cat": r["service"], "ts": _us(start["t"]),
                               "dur": _us(r["t"]) - _us(start["t"]), "pid": pid(here), "tid": r.get("worker", 0),
                               "args": {"request": r["request"], "instance": r["instance"],
                                        "attempt": r.get("attempt"), "waited_s": start.get("wait")}})
        elif ev == "step.start" and (name in DRIVER or name == "_poll_unconfirmed_resizes"):
            open_driver[(here, name, r["request"])] = r
        elif ev == "step.end" and (name in DRIVER or name == "_poll_unconfirmed_resizes"):
            start = open_driver.pop((here, name, r["request"]), None)
            if start is not None:
                tid = worker_of.get((here, r["request"]), 0) if name in DRIVER else 1000
                threads.add((pid(here), tid))
                events.append({"ph": "X", "name": name, "cat": "driver", "ts": _us(start["t"]),
                               "dur": _us(r["t"]) - _us(start["t"]), "pid": pid(here), "tid": tid,
                               "args": {"request": r["request"], "instance": r["instance"]}})
    for service, series in queues.items():
        p = pid(service)
        for t, depth in [(0.0, 0)] + list(series):
            events.append({"ph": "C", "name": "queue", "pid": p, "tid": 0, "ts": _us(t),
                           "args": {"messages": depth}})
    for p_, tid in sorted(threads):
        label = f"request {tid}" if p_ == pids["user"] else ("periodic tasks" if tid == 1000 else f"worker {tid}")
        events.append({"ph": "M", "name": "thread_name", "pid": p_, "tid": tid, "args": {"name": label}})
    # services first, then the compute hosts by name
    order = sorted(pids, key=lambda n: (n.startswith("nova-compute@"), n if n.startswith("nova-compute@") else ""))
    for i, name in enumerate(order):
        for e in events:
            if e["ph"] == "M" and e["name"] == "process_sort_index" and e["pid"] == pids[name]:
                e["args"]["sort_index"] = i
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"source": "nova-resize-sim", "time": "simulated seconds × 10^6 = µs"}}


def write_timeline(records: Iterable[dict[str, Any]], queues: dict[str, list[tuple[float, int]]], path: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(build_timeline(records, queues), f, separators=(",", ":"))
