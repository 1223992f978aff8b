"""Copy time against the number of simultaneous migrations (copy_concurrency.png).

Runs a scenario whose workload starts groups of migrations at the same instant
(scenarios/network/uplink-concurrency.yaml), groups the requests by their arrival
time, and plots each group's mean disk-copy time against its size, beside the
line a perfectly shared bottleneck gives (n × the time alone).

    python -m plots.copy_concurrency SCENARIO [--out DIR]
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def copy_times_by_concurrency(result: Any) -> list[tuple[int, float]]:
    """(group size, mean disk_copy seconds) per group of simultaneous arrivals."""
    groups: dict[float, list[float]] = defaultdict(list)
    for r in result.rows:
        if r["disk_copy"] > 0:
            groups[r["submitted"]].append(r["disk_copy"])
    return sorted((len(v), sum(v) / len(v)) for v in groups.values())


def plot(points: list[tuple[int, float]], path: Path, title: str) -> None:
    n = [p[0] for p in points]
    t = [p[1] for p in points]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(n, t, "o-", label="simulated (mean per group)")
    if points:
        ax.plot(n, [t[0] / n[0] * k for k in n], "k--", linewidth=1, label="n × time alone")
    for k, v in points:
        ax.annotate(f"{v:.1f} s", (k, v), textcoords="offset points", xytext=(5, -12), fontsize=8)
    ax.set_xlabel("simultaneous migrations")
    ax.set_ylabel("disk copy time (s)")
    ax.set_xticks(n)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import simulator
    from simulator.errors import ScenarioError

    p = argparse.ArgumentParser(prog="python -m plots.copy_concurrency", description=__doc__.splitlines()[0])
    p.add_argument("scenario")
    p.add_argument("--out", default="results/copy-concurrency")
    a = p.parse_args(argv)
    try:
        result = simulator.run(a.scenario, out=a.out)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    points = copy_times_by_concurrency(result)
    out = Path(a.out) / "copy_concurrency.png"
    plot(points, out, f"{result.summary['scenario']['name']}: copy time against concurrency")
    for k, v in points:
        print(f"{k} at once: {v:.2f} s each")
    print(f"plot in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
