"""``run_sim.py step``: one request told hop by hop, for a student to follow.

The request's trace records are cut into *hops*: a hop begins when a service starts
handling a message for it (an HTTP request, an RPC call or cast), or when a handler
that waited on a call carries on after the reply. Each hop says where it runs (the
service, its host and worker, and Nova's function with its file and class), how the
message came (call, cast, reply, HTTP) and how long it waited in the queue, what
changed (states before → after, notifications, resources claimed or freed, faults),
what the driver did and for how long, what it sent next, and at the scheduler why
the host was chosen. Everything comes from the trace: nothing here knows the flow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from models.catalog import DRIVER, HANDLERS, lane, where
from models.scheduler import SchedulingRecord


@dataclass
class Hop:
    """One hop of a request: a handler's stretch of work on one service."""

    number: int
    t: float
    service: str
    host: str | None
    name: str
    kind: str                      # http, call, cast, reply (a continuation), periodic
    source: str | None             # the lane the message came from
    worker: int | None = None
    wait: float = 0.0
    behind: int = 0
    attempt: int | None = None
    end: float = 0.0
    lines: list[tuple[str, str]] = field(default_factory=list)   # (style, text)

    @property
    def target(self) -> str:
        return lane(self.service, self.host)


def _fmt_usage(u: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in u.items())


def build_hops(records: Iterable[dict[str, Any]], explain: list[SchedulingRecord] | None = None,
               host_names: list[str] | None = None) -> list[Hop]:
    """Cut one request's trace records into hops.

    Each lane (a service on a host) has at most one hop open: it opens when a handler
    starts (or carries on after the reply to its call) and closes when the handler
    makes a call (it then waits) or returns.
    """
    hops: list[Hop] = []
    handler: dict[tuple[str, str | None], str] = {}        # lane → the handler running there
    active: dict[tuple[str, str | None], Hop] = {}         # lane → its open hop
    sent: dict[int, dict[str, Any]] = {}                    # msg id → its send record
    replies: dict[tuple[str, str | None], dict[str, Any]] = {}  # caller lane → its reply
    state: tuple[Any, ...] | None = None
    first_state: dict[str, Any] | None = None
    explain = list(explain or [])

    def open_hop(rec: dict[str, Any], name: str, kind: str, source: str | None, **kw: Any) -> Hop:
        hop = Hop(len(hops) + 1, rec["t"], rec["service"], rec["host"], name, kind, source, **kw)
        hop.end = rec["t"]
        hops.append(hop)
        active[(rec["service"], rec["host"])] = hop
        return hop

    for rec in records:
        ev, svc, host, name = rec["event"], rec["service"], rec["host"], rec["name"]
        key = (svc, host)
        if ev in ("rpc.call", "rpc.cast", "http.request"):
            sent[rec["msg"]] = rec
            if ev == "http.request" and first_state is None:
                first_state = rec
            if ev == "http.request":
                continue
        if ev == "step.start" and name in HANDLERS:
            msg = sent.get(rec.get("msg"))
            if name == "_poll_unconfirmed_resizes":
                hop = open_hop(rec, name, "periodic", None, attempt=rec.get("attempt"))
            else:
                kind = {"rpc.call": "call", "rpc.cast": "cast", "http.request": "http"}[msg["event"]] if msg else "?"
                src = lane(msg["service"], msg["host"]) if msg else None
                hop = open_hop(rec, name, kind, src, worker=rec.get("worker"), wait=rec.get("wait", 0.0),
                               behind=rec.get("behind", 0), attempt=rec.get("attempt"))
                if msg is not None and msg["event"] != "http.request":
                    hop.lines.append(("dim", f"message sent at t={msg['t']:.6f} s; {rec['t'] - msg['t']:.6f} s "
                                             f"in transit and in the queue"))
            handler[key] = name
            if hop.wait > 0:
                hop.lines.append(("warn", f"waited {hop.wait:.6f} s in the {svc} queue behind "
                                          f"{hop.behind} other message(s)"))
            continue
        if svc == "client":
            continue
        hop = active.get(key)
        if hop is None:  # a handler carrying on after the reply to its call
            running = handler.get(key)
            if running is None:
                continue
            reply = replies.pop(key, None)
            src = lane(reply["service"], reply["host"]) if reply else None
            hop = open_hop(rec, running, "reply", src, attempt=rec.get("attempt"))
            if reply is not None and reply.get("error"):
                hop.lines.append(("err", f"the call raised {reply['error']}"))
        hop.end = rec["t"]
        if ev == "step.end" and name in HANDLERS:
            handler.pop(key, None)
            active.pop(key, None)
            hop.lines.append(("dim", f"{name} returns"))
        elif ev == "state":
            new = (rec["vm_state"], rec["task_state"], rec["migration_status"], rec["instance_host"])
            names = ("vm_state", "task_state", "migration", "instance.host")
            if state is None:
                state = (first_state or {}).get("vm_state"), (first_state or {}).get("task_state"), None, new[3]
            changes = [f"{n} {a} → {b}" for n, a, b in zip(names, state, new) if a != b]
            state = new
            if new[0] == "resized" and new[1] is None and "vm_state" in ",".join(changes):
                changes.append("(the API now shows VERIFY_RESIZE)")
            hop.lines.append(("state", "state: " + (", ".join(changes) if changes else
                                                    f"saved unchanged (instance.host {rec['instance_host']})")))
            if rec.get("claimed"):
                hop.lines.append(("res", f"resources: the new flavor claimed on {rec['claimed']}"))
            if rec.get("released"):
                hop.lines.append(("res", f"resources: a flavor released on {rec['released']}"))
            for role in ("source", "dest"):
                u = rec.get(f"{role}_usage")
                if u:
                    hop.lines.append(("res", f"  {role} {u['host']} used/limit: {_fmt_usage(u['use'])}"))
        elif ev == "notification":
            hop.lines.append(("note", f"notification {name}" + (f" ({rec['error']})" if rec.get("error") else "")))
        elif ev == "instance_fault":
            hop.lines.append(("err", f"instance fault {name}: {rec.get('message', '')}"))
        elif ev == "objects":
            w, r = rec["writes"], rec["reads"]
            hop.lines.append(("dim", f"database: {w} save{'s' * (w != 1)}" + (f", {r} read{'s' * (r != 1)}" if r else "")
                                     + f" as calls to nova-conductor ({rec['seconds'] * 1000:.0f} ms)"))
        elif ev == "step.end" and name == "resize_claim":
            if rec.get("ok"):
                hop.lines.append(("res", "resource tracker: resize_claim fits"))
            else:
                hop.lines.append(("err", f"resource tracker: resize_claim refused: {rec.get('message', '')}"))
        elif ev == "step.start" and name in DRIVER:
            hop.lines.append(("drv", f"driver: {DRIVER[name]}"))
            if where(svc, name):
                hop.lines.append(("dim", f"  {where(svc, name)}"))
        elif ev == "step.end" and name in DRIVER:
            how = ""
            if name == "power_off":
                how = " (hard power-off)" if rec.get("hard") else " (clean shutdown)"
            if name == "copy_disks" and rec.get("seconds", 0) == 0:
                how = " (nothing to copy)"
            hop.lines.append(("drv", f"driver: {name} took {rec.get('seconds', 0):.6f} s{how}"))
        elif ev in ("rpc.call", "rpc.cast"):
            target = lane(rec["to_service"], rec["to_host"])
            kind = "call" if ev == "rpc.call" else "cast"
            if kind == "call":
                hop.lines.append(("send", f"→ call {name} to {target}, and waits for the reply"))
                active.pop(key, None)
            else:
                hop.lines.append(("send", f"→ cast {name} to {target}"))
        elif ev == "rpc.reply":
            if hop.name == "select_destinations":
                _scheduler_lines(hop, explain, host_names)
            target = lane(rec["to_service"], rec["to_host"])
            replies[(rec["to_service"], rec["to_host"])] = rec
            err = f" (raises {rec['error']})" if rec.get("error") else ""
            hop.lines.append(("send", f"↩ reply to {target}{err}"))
        elif ev == "http.response":
            err = f" ({rec['error']})" if rec.get("error") else ""
            hop.lines.append(("send", f"↩ HTTP {rec.get('status')} to the user{err}"))
    return hops


def _scheduler_lines(hop: Hop, explain: list[SchedulingRecord], host_names: list[str] | None) -> None:
    """Why this host: each filter's verdict, the best hosts' weights, the choice."""
    if not explain or host_names is None:
        return
    record = explain.pop(0)
    filters, sel = record.filters, record.selection
    n = filters[0].hosts_in if filters else 0
    hop.lines.append(("sched", f"scheduler: {n} hosts considered (attempt {record.attempt}, worker {record.worker})"))
    for name, before, after in filters:
        gone = record.removed.get(name, [])
        names = ", ".join(host_names[i] for i in gone[:6]) + (f" and {len(gone) - 6} more" if len(gone) > 6 else "")
        hop.lines.append(("sched", (f"  {name:<31} {before:>4} → {after:<4}" + (f" removed {names}" if gone else "")).rstrip()))
    if sel is None:
        hop.lines.append(("err", "  no host passes: NoValidHost"))
        return
    for (h, total), parts in zip(sel.best[:3], sel.best_weights[:3]):
        shown = {k: v for k, v in parts.items() if v != 0}
        detail = ", ".join(f"{k} {v:+.4f}" for k, v in shown.items()) or "every weigher 0"
        if len(shown) < len(parts):
            detail += ", others 0"
        hop.lines.append(("sched", f"  weight {total + 0.0:.4f}  {host_names[h]:<10} ({detail})"))
    why = "the highest weight" if len(sel.best) > 1 else "the only host left"
    hop.lines.append(("sched", f"  chosen: {host_names[sel.host]}, {why}"))


STYLES = {"state": "bold yellow", "note": "cyan", "res": "magenta", "err": "bold red", "drv": "green",
          "send": "blue", "sched": "white", "warn": "bold red", "dim": "dim"}


def render(hop: Hop, previous_t: float | None) -> list[tuple[str, str]]:
    """A hop as (style, line) pairs, at most 88 columns wide."""
    delta = f" (+{hop.t - previous_t:.6f} s)" if previous_t is not None else ""
    title = f"hop {hop.number} · t = {hop.t:.6f} s{delta}"
    out = [("rule", f"── {title} " + "─" * max(0, 74 - len(title)))]
    via = {"http": "HTTP", "call": "CALL", "cast": "CAST", "reply": "REPLY", "periodic": "PERIODIC"}[hop.kind] \
        if hop.kind in ("http", "call", "cast", "reply", "periodic") else hop.kind
    if hop.kind == "periodic":
        out.append(("head", f"{hop.target} runs its periodic task   {via}   {hop.name}"))
    elif hop.kind == "reply":
        out.append(("head", f"{hop.source or '?'} → {hop.target}   {via}   {hop.name} carries on"))
    else:
        out.append(("head", f"{hop.source or '?'} → {hop.target}   {via}   {hop.name}"))
    fn = where(hop.service, hop.name)
    if fn:
        out.append(("dim", f"  runs {fn}"))
    if hop.worker is not None and hop.kind != "reply":
        out.append(("dim", f"  on worker {hop.worker}" + (f", attempt {hop.attempt}" if hop.attempt else "")))
    for style, text in hop.lines:
        out.append((style, f"  {text}"))
    out.append(("dim", f"  this hop took {hop.end - hop.t:.6f} s"))
    return out


def narrate(hops: list[Hop]) -> list[list[tuple[str, str]]]:
    """Every hop rendered, in order."""
    blocks = []
    prev = None
    for hop in hops:
        blocks.append(render(hop, prev))
        prev = hop.t
    return blocks
