"""A run's plots: ``latency.png`` (distribution of request latency) and
``phases.png`` (mean time per phase of the critical path)."""
from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from models.request import PHASES  # noqa: E402
from models.states import MOVED  # noqa: E402

_META = {"Software": None}


def write_run_plots(result: Any, outdir: Any) -> None:
    """Draw the run's plots into ``outdir`` (an ``OutputDir``)."""
    name = result.summary["scenario"].get("name", "")
    moved = [r for r in result.rows if r["status"] in MOVED]
    lat = sorted(r["latency"] for r in moved)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    if lat:
        lo, hi = lat[0], lat[-1]
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        ax1.hist(lat, bins=min(50, max(5, len(lat) // 4)), range=(lo, hi), color="#4c72b0")
        ax2.plot(lat, [(i + 1) / len(lat) for i in range(len(lat))], color="#4c72b0")
        s = result.summary["latency"]
        for q, style in (("p50", "--"), ("p90", ":"), ("p99", "-.")):
            ax1.axvline(s[q], color="k", linestyle=style, linewidth=1, label=f"{q} {s[q]:.1f} s")
        ax1.legend(fontsize=8)
    else:
        ax1.text(0.5, 0.5, "no request reached VERIFY_RESIZE", ha="center", transform=ax1.transAxes)
    ax1.set_xlabel("latency to VERIFY_RESIZE (s)")
    ax1.set_ylabel("requests")
    ax2.set_xlabel("latency to VERIFY_RESIZE (s)")
    ax2.set_ylabel("fraction of requests")
    ax2.grid(alpha=0.3)
    fig.suptitle(f"{name}: request latency ({len(lat)} moved of {len(result.rows)} requests)")
    fig.tight_layout()
    fig.savefig(outdir.temp("latency.png"), dpi=100, format="png", metadata=_META)
    plt.close(fig)

    phases = result.summary["phases"]
    means = [phases[p]["mean"] or 0.0 for p in PHASES]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.barh(list(PHASES)[::-1], means[::-1], color="#55a868")
    ax.bar_label(bars, labels=[f"{m:.2f} s" for m in means[::-1]], fontsize=8, padding=2)
    ax.set_xlabel("mean seconds per request (requests that reached VERIFY_RESIZE)")
    ax.set_title(f"{name}: where the latency goes")
    ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(outdir.temp("phases.png"), dpi=100, format="png", metadata=_META)
    plt.close(fig)
    _links(result, outdir, name)


def _links(result: Any, outdir: Any, name: str, top: int = 8) -> None:
    """links.png: utilisation over time of the busiest links and disks."""
    busiest = list(result.summary.get("network", {}).get("links", {}))[:top]
    end = result.summary["sim_time"]
    fig, ax = plt.subplots(figsize=(10, 4))
    for link in busiest:
        series = result.links[link].series or []
        if not series:
            continue
        xs, ys = [0.0], [0.0]
        for t, u in series:
            xs += [t, t]
            ys += [ys[-1], u]
        xs.append(end)
        ys.append(ys[-1])
        ax.plot(xs, ys, linewidth=1, label=link)
    if not busiest:
        ax.text(0.5, 0.5, "no copy crossed a link with a capacity", ha="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=7, loc="upper right", ncol=2)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("utilisation")
    ax.set_title(f"{name}: the {len(busiest)} busiest links and disks")
    fig.tight_layout()
    fig.savefig(outdir.temp("links.png"), dpi=100, format="png", metadata=_META)
    plt.close(fig)


STATE_ORDER = ("active", "stopped", "resize_prep", "resize_migrating", "resize_migrated", "resize_finish",
               "resized", "resize_reverting", "error")


def write_states_plot(result: Any, records: Any, outdir: Any) -> None:
    """states.png: how many instances are in each state over time, stacked (a task
    state when the instance has one, else its vm_state)."""
    from collections import Counter

    counts = Counter(result.initial_states)
    current: dict[str, str] = {}
    times, snaps = [0.0], [dict(counts)]
    for r in records:
        if r["event"] != "state" or r["name"] != "instance.save":
            continue
        new = r["task_state"] or r["vm_state"]
        old = current.get(r["instance"])
        if old is None:  # its state before its first change: what a move starts from
            old = "active" if counts.get("active", 0) else next(iter(counts), new)
        if old == new:
            current[r["instance"]] = new
            continue
        counts[old] -= 1
        counts[new] += 1
        current[r["instance"]] = new
        times.append(r["t"])
        snaps.append(dict(counts))
    times.append(result.summary["sim_time"])
    snaps.append(dict(counts))
    labels = [s for s in STATE_ORDER if any(snap.get(s) for snap in snaps)]
    labels += sorted({k for snap in snaps for k, v in snap.items() if v} - set(labels))
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.stackplot(times, [[snap.get(lab, 0) for snap in snaps] for lab in labels], labels=labels, step="post")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("instances")
    ax.set_title(f"{result.summary['scenario'].get('name', '')}: instances by state", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.margins(x=0)
    fig.tight_layout()
    fig.savefig(outdir.temp("states.png"), dpi=100, format="png", metadata=_META)
    plt.close(fig)
