"""Copy time against the number of simultaneous migrations (copy_concurrency.png).

From a run whose workload starts groups of migrations at the same instant (such as
scenarios/network/uplink-concurrency.yaml): the requests are grouped by their arrival
time, and each group's mean disk-copy time is plotted against its size, beside the
line a perfectly shared bottleneck gives (n × the time alone).

    python run_sim.py run scenarios/network/uplink-concurrency.yaml
    python -m plots.copy_concurrency results/uplink-concurrency
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
import csv
from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def copy_times_by_concurrency(rows: Iterable[dict[str, Any]]) -> list[tuple[int, float]]:
    """(group size, mean disk_copy seconds) per group of simultaneous arrivals, from
    a run's rows (``Result.rows``, or requests.csv's)."""
    groups: dict[float, list[float]] = defaultdict(list)
    for r in rows:
        copy = float(r["disk_copy"] or 0)
        if copy > 0:
            groups[float(r["submitted"])].append(copy)
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
    p = argparse.ArgumentParser(prog="python -m plots.copy_concurrency", description=__doc__.splitlines()[0])
    p.add_argument("directory", help="a run's out directory (with requests.csv and summary.json)")
    a = p.parse_args(argv)
    d = Path(a.directory)
    if not (d / "requests.csv").is_file() or not (d / "summary.json").is_file():
        hint = (f"run it first: python run_sim.py run {d} --out DIR, then give DIR"
                if d.suffix in (".yaml", ".yml") else "run a scenario with --out DIR first, then give DIR")
        print(f"error: {d}: expected a run's out directory (with requests.csv and summary.json); {hint}",
              file=sys.stderr)
        return 2
    with open(d / "requests.csv", encoding="utf-8", newline="") as f:
        points = copy_times_by_concurrency(csv.DictReader(f))
    name = json.loads((d / "summary.json").read_text(encoding="utf-8"))["scenario"]["name"]
    out = d / "copy_concurrency.png"
    plot(points, out, f"{name}: copy time against concurrency")
    for k, v in points:
        print(f"{k} at once: {v:.2f} s each")
    print(f"plot in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
