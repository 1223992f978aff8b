"""A sequence diagram of one request (sequence.png and sequence.svg), from its trace.

One lane per service instance (the user, nova-api, nova-conductor, nova-scheduler,
the source's nova-compute, each destination's), time flowing down. Calls are solid
arrows, casts dashed, replies dotted back; each handler is a box on its lane with its
duration, the driver's work a darker box inside it; state changes are written beside
the lane where they happen. Rows are events, not seconds (a resize spends most of
its time copying disks, which would flatten every RPC hop), so the time of each row
is written on the left. Every arrow and box comes from the trace: a reschedule or a
revert draws its own hops.
"""
from __future__ import annotations

from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402

from models.catalog import DRIVER, HANDLERS, lane  # noqa: E402

ARROW_STYLE = {"rpc.call": "-", "http.request": "-", "rpc.cast": "--", "rpc.reply": ":", "http.response": ":"}


def lanes_of(records: list[dict[str, Any]], source: str | None) -> list[str]:
    """The lanes in the order a reader expects: user, api, conductor, scheduler, the
    source's compute, then every other compute in order of appearance."""
    fixed = ["user", "nova-api", "nova-conductor", "nova-scheduler"]
    computes: list[str] = []
    if source:
        computes.append(f"nova-compute@{source}")
    for r in records:
        for svc, host in ((r["service"], r["host"]), (r.get("to_service"), r.get("to_host"))):
            if svc == "nova-compute":
                name = lane(svc, host)
                if name not in computes:
                    computes.append(name)
    used = {lane(r["service"], r["host"]) for r in records} | {
        lane(r["to_service"], r.get("to_host")) for r in records if r.get("to_service")}
    return [x for x in fixed if x in used or x == "user"] + computes


def arrows(records: Iterable[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(kind, from lane, to lane, name) of every message of the request, in order:
    what the diagram draws (and what a test can check against the trace)."""
    out = []
    for r in records:
        ev = r["event"]
        if ev in ("rpc.call", "rpc.cast", "rpc.reply", "http.request"):
            out.append((ev, lane(r["service"], r["host"]), lane(r["to_service"], r["to_host"]), r["name"]))
        elif ev == "http.response":
            out.append((ev, lane(r["service"], r["host"]), "user", r["name"]))
    return out


def draw_sequence(records: list[dict[str, Any]], path_png: Any, path_svg: Any = None,
                  title: str = "", source: str | None = None) -> list[tuple[str, str, str, str]]:
    """Draw the request's sequence diagram from its trace records; return the arrows
    drawn as (kind, from lane, to lane, name)."""
    drawn: list[tuple[str, str, str, str]] = []
    lanes = lanes_of(records, source)
    x = {name: i for i, name in enumerate(lanes)}
    rows: list[tuple[float, str]] = []
    row_of: list[int] = []
    for r in records:
        rows.append((r["t"], r["event"]))
        row_of.append(len(rows) - 1)
    n = len(rows)
    fig_h = max(4.0, 0.24 * n + 1.5)
    fig, ax = plt.subplots(figsize=(2.3 * len(lanes) + 2.5, fig_h))
    for name, i in x.items():
        ax.plot([i, i], [-0.5, n + 0.5], color="#bbbbbb", linewidth=1, zorder=0)
        ax.text(i, -1.2, name, ha="center", va="bottom", fontsize=9, fontweight="bold")
    open_boxes: dict[tuple[str, str], int] = {}
    last_t = None
    for idx, r in enumerate(records):
        y = row_of[idx]
        ev, name = r["event"], r["name"]
        if r["t"] != last_t:
            ax.text(-0.55, y, f"{r['t']:.3f} s", ha="right", va="center", fontsize=6.5, color="#666666")
            last_t = r["t"]
        here = lane(r["service"], r["host"])
        if ev in ARROW_STYLE:
            to = "user" if ev == "http.response" else lane(r["to_service"], r["to_host"])
            if here not in x or to not in x:
                continue
            style = ARROW_STYLE[ev]
            color = {"-": "#1f4e99", "--": "#2a8a3e", ":": "#888888"}[style]
            ax.add_patch(FancyArrowPatch((x[here], y), (x[to], y + 0.8), arrowstyle="-|>", mutation_scale=10,
                                         linestyle=style, color=color, linewidth=1.2, zorder=3))
            drawn.append((ev, here, to, name))
            label = name if ev != "http.response" else f"HTTP {r.get('status')}"
            kind = {"rpc.call": "call", "rpc.cast": "cast", "rpc.reply": "reply", "http.request": "HTTP",
                    "http.response": ""}[ev]
            ax.text((x[here] + x[to]) / 2, y + 0.3, f"{kind} {label}".strip(), ha="center", va="bottom",
                    fontsize=7, color=color)
        elif ev == "step.start" and (name in HANDLERS or name in DRIVER):
            open_boxes[(here, name)] = y
            if r.get("wait"):
                ax.text(x[here] + 0.17, y - 0.35, f"queued {r['wait']:.3f} s behind {r.get('behind', 0)}",
                        ha="left", va="center", fontsize=6.5, color="#c0392b")
        elif ev == "step.end" and (name in HANDLERS or name in DRIVER) and (here, name) in open_boxes:
            y0 = open_boxes.pop((here, name))
            inner = name in DRIVER
            w = 0.16 if inner else 0.26
            start_t = rows[y0][0]
            ax.add_patch(Rectangle((x[here] - w / 2, y0), w, max(0.6, y - y0), zorder=2.5 if inner else 2,
                                   facecolor="#7aa6d6" if inner else "#dce8f5", edgecolor="#4a6f96"))
            ax.text(x[here] - 0.16, y0 + 0.15, f"{name} {r['t'] - start_t:.3f} s", ha="right", va="top",
                    fontsize=6.5, color="#1d3557")
        elif ev == "state":
            text = f"{r['vm_state']} / {r['task_state']} / {r['migration_status']}"
            ax.text(x[here] + 0.17, y, text, ha="left", va="center", fontsize=6.5, color="#a0522d")
        elif ev == "instance_fault":
            ax.text(x[here] + 0.17, y, f"fault {name}", ha="left", va="center", fontsize=6.5, color="#c0392b")
    ax.set_xlim(-1.4, len(lanes) - 0.2)
    ax.set_ylim(n + 1, -2)
    ax.axis("off")
    ax.set_title(title + "\nsolid: call · dashed: cast · dotted: reply · text: vm_state / task_state / migration",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path_png, dpi=110, format="png", metadata={"Software": None})
    if path_svg:
        # a fixed salt: the SVG's element ids are otherwise random (the same run would
        # not give the same bytes)
        with matplotlib.rc_context({"svg.hashsalt": "nova-resize-sim"}):
            fig.savefig(path_svg, format="svg", metadata={"Date": None})
    plt.close(fig)
    return drawn
