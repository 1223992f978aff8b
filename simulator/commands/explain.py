"""``run_sim.py explain``: why a request's destination was chosen.

Replays the scenario with the scheduler recording, for the one request asked about,
which hosts each filter removed and the weights of the best hosts, then prints it
attempt by attempt with the outcome of each destination's claim.
"""
from __future__ import annotations

from typing import Any

from simulator.commands.results import Result
from simulator.engine.errors import ScenarioError

MAX_NAMES = 8


def _names(hosts: list[str], idx: list[int]) -> str:
    shown = ", ".join(hosts[i] for i in idx[:MAX_NAMES])
    more = len(idx) - MAX_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def explain_text(result: Result, request: int, host_names: list[str], source: str | None = None) -> str:
    """The explanation of ``request``'s scheduling, from a run made with explain."""
    if not 1 <= request <= len(result.rows):
        raise ScenarioError(source, "--request", f"request {request} does not exist: the run had "
                            f"{len(result.rows)} request(s), numbered from 1")
    row = result.request(request)
    out = [f"request {request}: {row['op']} {row['instance']} ({row['flavor_old']} → {row['flavor_new']}) "
           f"from {row['source'] or '?'}; status {row['status']}"
           + (f" ({row['reason']})" if row["reason"] else "")]
    records = result.explained.get(request, [])
    if not records:
        out.append("  never reached the scheduler" + (f": refused at the API ({row['reason']})" if row["reason"] else ""))
        return "\n".join(out)
    refused = [r for r in result.trace if r["request"] == request and r["event"] == "instance_fault"
               and r["name"] == "ComputeResourcesUnavailable"]
    for record in records:
        sel = record.selection
        out.append(f"\nattempt {record.attempt}: select_destinations on scheduler worker {record.worker} "
                   f"at t={record.t:.3f} s")
        for name, before, after in record.filters:
            gone = record.removed.get(name, [])
            note = f"   removed: {_names(host_names, gone)}" if gone else ""
            out.append(f"  {name:<32} {before:>6} → {after:<6}{note}")
        if sel is None:
            out.append("  no host left: NoValidHost")
            continue
        weighers = list(sel.weights)
        out.append("  best hosts (weight = sum of multiplier × normalised value):")
        out.append("    " + f"{'host':<12}{'total':>9}" + "".join(f"{w:>16}" for w in weighers))
        for (h, total), parts in zip(sel.best, sel.best_weights):
            out.append("    " + f"{host_names[h]:<12}{total + 0.0:>9.4f}"
                       + "".join(f"{parts[w] + 0.0:>16.4f}" for w in weighers))
        chosen = host_names[sel.host]
        out.append(f"  chosen: {chosen} (weight {sel.weight + 0.0:.4f})")
        fault = next((f for f in refused if f["host"] == chosen), None)
        if fault is not None:
            refused.remove(fault)
            out.append(f"  claim on {chosen} refused: {fault['message']}")
        elif row["status"] != "in_flight":
            out.append(f"  claim on {chosen}: accepted")
    return "\n".join(out)
