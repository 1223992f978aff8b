"""Plots of a sweep (from its out directory) and the single-run extras.

A sweep directory gives:
- ``metric-<metric>.png``: the metric against the first varied key, with the 95 %
  confidence band, one line per value of the second varied key;
- ``throughput.png``: throughput against offered load, the saturation point marked
  (the lowest offered load at which throughput falls below 95 % of it);
- ``phases.png``: mean time per phase, stacked, against the first varied key;
- ``utilisation.png``: each service's utilisation against the first varied key.

A run directory gives ``gantt.png`` (one bar per request, coloured by phase) and
``queues.png`` (each service's queue length over time, from the trace).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from models.request import PHASES  # noqa: E402
from simulator.engine.stats import summarise  # noqa: E402

_META = {"Software": None}
SERVICES = ("nova-api", "nova-conductor", "nova-scheduler", "nova-compute")
COLORS = dict(zip(PHASES, ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974", "#64b5cd", "#8c8c8c", "#dd8452")))


def plot_directory(directory: str | Path) -> list[Path]:
    d = Path(directory)
    if (d / "sweep.json").exists():
        return plot_sweep(d)
    if (d / "summary.json").exists() and (d / "requests.csv").exists():
        return plot_run_extras(d)
    from simulator.engine.errors import ScenarioError

    raise ScenarioError(str(d), "", "neither a sweep directory (sweep.json) nor a run directory "
                        "(summary.json and requests.csv)")


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=_META)
    plt.close(fig)
    return path


def _first_group(sweep: dict[str, Any]) -> tuple[str, str | None, Any]:
    """The first varied key (the x axis) and the first combination of the others:
    plots with one line per service or a stack per phase show that group only."""
    keys = list(sweep["vary"])
    label = _group_label(sweep, sweep["points"][0])
    return keys[0], ("group" if label else None), label


def _load(d: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    meta = json.loads((d / "sweep.json").read_text())
    records = [json.loads(f.read_text()) for f in sorted((d / "runs").glob("*.json"))]
    return meta["sweep"], records


def _by_point(records: list[dict[str, Any]], key: str, extra: bool = True) -> dict[int, dict[str, Any]]:
    out: dict[int, list] = defaultdict(list)
    for r in records:
        v = (r.get("extra") or {}).get(key) if extra else r["metrics"].get(key)
        if v is None and not extra:
            continue
        out[r["point"]].append(v)
    return {p: summarise(vs) for p, vs in out.items()}


def _group_label(sweep: dict[str, Any], point: dict[str, Any]) -> str | None:
    """The line a point belongs to: the values of every varied key but the first (keys
    with one value in the whole sweep say nothing and are left out)."""
    others = [k for k in list(sweep["vary"])[1:] if len({repr(pt.get(k)) for pt in sweep["points"]}) > 1]
    return ", ".join(f"{_short(k)} = {point.get(k)}" for k in others) if others else None


def _short(key: str) -> str:
    """A legend's name for a key: keys set together by one value (``hosts[0].nic_gbps,
    hosts[1].nic_gbps``) by their common last part when they share one."""
    parts = key.split(",")
    tails = {p.rsplit(".", 1)[-1] for p in parts}
    return tails.pop() if len(parts) > 1 and len(tails) == 1 else key


def _x(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _series(sweep: dict[str, Any], stats: dict[int, dict[str, Any]]) -> tuple[str, str | None, dict[Any, list]]:
    """Group points into lines: x = the first varied key, one line per combination of
    the others."""
    keys = list(sweep["vary"])
    xkey = keys[0]
    gkey = "" if len(keys) > 1 else None
    lines: dict[Any, list] = defaultdict(list)
    for p, point in enumerate(sweep["points"]):
        if p in stats and stats[p]["mean"] is not None:
            lines[_group_label(sweep, point)].append((_x(point[xkey]), stats[p]))
    for v in lines.values():
        v.sort(key=lambda item: (isinstance(item[0], str), item[0]))
    return xkey, gkey, lines


def _line_plot(ax: Any, lines: dict[Any, list], gkey: str | None) -> None:
    for g, pts in lines.items():
        xs = [x for x, _ in pts]
        ys = [s["mean"] for _, s in pts]
        label = (f"{gkey} = {g}" if gkey else g) if g is not None else None
        ax.plot(xs, ys, "o-", label=label)
        lo = [s["ci95_low"] if s["ci95_low"] is not None else s["mean"] for _, s in pts]
        hi = [s["ci95_high"] if s["ci95_high"] is not None else s["mean"] for _, s in pts]
        ax.fill_between(xs, lo, hi, alpha=0.2)
    if gkey is not None or any(g is not None for g in lines):
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def plot_sweep(directory: str | Path) -> list[Path]:
    d = Path(directory)
    sweep, records = _load(d)
    paths = []
    for metric in sweep["metrics"]:
        xkey, gkey, lines = _series(sweep, _by_point(records, metric, extra=False))
        fig, ax = plt.subplots(figsize=(7, 4.5))
        _line_plot(ax, lines, gkey)
        ax.set_xlabel(xkey)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} (mean and 95 % CI over {sweep['replications']} replications)", fontsize=10)
        paths.append(_save(fig, d / f"metric-{metric.replace('/', '_')}.png"))
    paths.append(_throughput(d, sweep, records))
    paths.append(_phases(d, sweep, records))
    paths.append(_utilisation(d, sweep, records))
    return paths


def saturation_point(points: list[tuple[float, float]]) -> float | None:
    """The lowest offered load whose throughput is below 95 % of it, or None."""
    for offered, throughput in sorted(points):
        if offered > 0 and throughput < 0.95 * offered:
            return offered
    return None


def _throughput(d: Path, sweep: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    thr = _by_point(records, "throughput.per_hour")
    off = _by_point(records, "throughput.offered_per_hour")
    gkey = None
    lines: dict[Any, list] = defaultdict(list)
    for p, point in enumerate(sweep["points"]):
        if p in thr and thr[p]["mean"] is not None and off.get(p, {}).get("mean"):
            lines[_group_label(sweep, point)].append((off[p]["mean"], thr[p]))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for v in lines.values():
        v.sort(key=lambda item: item[0])
    _line_plot(ax, lines, gkey)
    top = max((x for pts in lines.values() for x, _ in pts), default=1.0)
    ax.plot([0, top], [0, top], "k:", linewidth=1, label="throughput = offered load")
    marks = []
    for g, pts in lines.items():
        sat = saturation_point([(x, s["mean"]) for x, s in pts])
        if sat is not None:
            ax.axvline(sat, color="#c44e52", linestyle="--", linewidth=1)
            marks.append(f"saturates at {sat:.0f}/h" + (f" ({g})" if g else ""))
    if marks:
        ax.text(0.98, 0.03, "\n".join(marks), transform=ax.transAxes, va="bottom", ha="right", fontsize=8,
                color="#c44e52")
    ax.set_xlabel("offered load (requests per hour)")
    ax.set_ylabel("throughput (moves per hour)")
    ax.set_title("throughput against offered load", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return _save(fig, d / "throughput.png")


def _phases(d: Path, sweep: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    xkey, gkey, first_g = _first_group(sweep)
    pts = [(p, _x(pt[xkey])) for p, pt in enumerate(sweep["points"])
           if not gkey or _group_label(sweep, pt) == first_g]
    pts.sort(key=lambda item: (isinstance(item[1], str), item[1]))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    bottom = [0.0] * len(pts)
    labels = [str(x) for _, x in pts]
    for phase in PHASES:
        st = _by_point(records, f"phases.{phase}.mean")
        vals = [(st.get(p) or {}).get("mean") or 0.0 for p, _ in pts]
        ax.bar(labels, vals, bottom=bottom, color=COLORS[phase], label=phase)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xlabel(xkey + (f" ({first_g})" if gkey else ""))
    ax.set_ylabel("mean seconds per request (s)")
    ax.set_title("where the latency goes, against load", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, d / "phases.png")


def _utilisation(d: Path, sweep: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xkey, gkey, first_g = _first_group(sweep)
    for svc in SERVICES:
        st = _by_point(records, f"services.{svc}.utilisation")
        pts = sorted(((_x(pt[xkey]), st[p]) for p, pt in enumerate(sweep["points"])
                      if p in st and st[p]["mean"] is not None
                      and (not gkey or _group_label(sweep, pt) == first_g)),
                     key=lambda item: (isinstance(item[0], str), item[0]))
        if pts:
            _line_plot(ax, {svc: pts}, None)
            ax.lines[-1].set_label(svc)
    ax.set_xlabel(xkey + (f" ({first_g})" if gkey else ""))
    ax.set_ylabel("utilisation (busy workers / workers)")
    ax.set_title("service utilisation against load", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, d / "utilisation.png")


def plot_run_extras(directory: str | Path) -> list[Path]:
    """gantt.png and queues.png of one run."""
    import csv

    d = Path(directory)
    rows = list(csv.DictReader((d / "requests.csv").open()))
    fig, ax = plt.subplots(figsize=(10, max(3.0, min(0.12 * len(rows) + 1.5, 30))))
    for phase in PHASES:
        bars, ys = [], []
        for r in rows:
            if not r["submitted"]:
                continue
            start = float(r["submitted"]) + sum(float(r[p] or 0) for p in PHASES[:PHASES.index(phase)])
            width = float(r[phase] or 0)
            if width > 0:
                bars.append((start, width))
                ys.append(int(r["request"]))
        for (x, w), y in zip(bars, ys):
            ax.broken_barh([(x, w)], (y - 0.4, 0.8), facecolors=COLORS[phase])
        ax.plot([], [], color=COLORS[phase], linewidth=6, label=phase)
    ax.invert_yaxis()
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("request")
    ax.set_title("each request from arrival to VERIFY_RESIZE, by phase", fontsize=10)
    ax.legend(fontsize=7, ncol=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    gantt = _save(fig, d / "gantt.png")

    changes: dict[str, list[tuple[float, int]]] = defaultdict(list)
    with open(d / "trace.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["event"] == "step.start" and r.get("wait"):
                svc = r["service"]
                changes[svc].append((r["t"] - r["wait"], 1))
                changes[svc].append((r["t"], -1))
    fig, ax = plt.subplots(figsize=(10, 4))
    for svc in SERVICES:
        ev = sorted(changes.get(svc, []))
        if not ev:
            continue
        xs, ys, level = [0.0], [0], 0
        for t, delta in ev:
            xs += [t, t]
            ys += [level, level + delta]
            level += delta
        ax.plot(xs, ys, linewidth=1, label=svc)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("messages waiting")
    ax.set_title("queue length per service (nova-compute: all hosts)", fontsize=10)
    if changes:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no message ever waited", ha="center", transform=ax.transAxes)
    return [gantt, _save(fig, d / "queues.png")]
