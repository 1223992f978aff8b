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

from simulator.narrate import DRIVER, HANDLERS, lane

US = 1e6


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
    open_steps: dict[tuple[str, int], dict[str, Any]] = {}   # (lane, msg) → the start record
    open_driver: dict[tuple[str, str, Any], dict[str, Any]] = {}
    worker_of: dict[tuple[str, int | None], int] = {}         # (lane, request) → worker running it
    sent: dict[int, dict[str, Any]] = {}
    for r in records:
        ev, name = r["event"], r["name"]
        here = lane(r["service"], r["host"])
        if ev in ("rpc.call", "rpc.cast", "http.request"):
            sent[r["msg"]] = r
        elif ev == "step.start" and name in HANDLERS and "msg" in r:
            open_steps[(here, r["msg"])] = r
            worker_of[(here, r["request"])] = r.get("worker", 0)
            src = sent.get(r["msg"])
            if src is not None:  # a flow arrow from the sender to this handler
                s_lane = lane(src["service"], src["host"])
                s_tid = worker_of.get((s_lane, r["request"]), 0) if s_lane != "user" else 0
                events.append({"ph": "s", "id": r["msg"], "name": src["name"], "cat": "rpc",
                               "ts": src["t"] * US, "pid": pid(s_lane), "tid": s_tid})
                events.append({"ph": "f", "bp": "e", "id": r["msg"], "name": src["name"], "cat": "rpc",
                               "ts": r["t"] * US, "pid": pid(here), "tid": r.get("worker", 0)})
        elif ev == "step.end" and name in HANDLERS and "msg" in r:
            start = open_steps.pop((here, r["msg"]), None)
            if start is not None:
                events.append({"ph": "X", "name": name, "cat": r["service"], "ts": start["t"] * US,
                               "dur": (r["t"] - start["t"]) * US, "pid": pid(here), "tid": r.get("worker", 0),
                               "args": {"request": r["request"], "instance": r["instance"],
                                        "attempt": r.get("attempt"), "waited_s": start.get("wait")}})
        elif ev == "step.start" and (name in DRIVER or name == "_poll_unconfirmed_resizes"):
            open_driver[(here, name, r["request"])] = r
        elif ev == "step.end" and (name in DRIVER or name == "_poll_unconfirmed_resizes"):
            start = open_driver.pop((here, name, r["request"]), None)
            if start is not None:
                tid = worker_of.get((here, r["request"]), 0) if name in DRIVER else 1000
                events.append({"ph": "X", "name": name, "cat": "driver", "ts": start["t"] * US,
                               "dur": (r["t"] - start["t"]) * US, "pid": pid(here), "tid": tid,
                               "args": {"request": r["request"], "instance": r["instance"]}})
    for service, series in queues.items():
        p = pid(service)
        for t, depth in [(0.0, 0)] + list(series):
            events.append({"ph": "C", "name": "queue", "pid": p, "tid": 0, "ts": t * US,
                           "args": {"messages": depth}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"source": "nova-resize-sim", "time": "simulated seconds × 10^6 = µs"}}


def write_timeline(records: Iterable[dict[str, Any]], queues: dict[str, list[tuple[float, int]]], path: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(build_timeline(records, queues), f, separators=(",", ":"))
