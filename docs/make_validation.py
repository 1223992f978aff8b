#!/usr/bin/env python3
"""Regenerate docs/validation.md: each published figure next to what the simulator
gives for its setting.

    python docs/make_validation.py

Each row names a figure (reference section 11, Nova's commit messages, Rally's
results, a hand-computed case), the scenario under ``scenarios/validation/`` that
reproduces its setting, and how the simulated value is read from the run. The table
is computed here, never typed in, and a test compares docs/validation.md with a fresh
computation, so the document cannot drift from the model.
"""
from __future__ import annotations

import copy
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simulator  # noqa: E402

SCENARIOS = ROOT / "scenarios" / "validation"
OUT = ROOT / "docs" / "validation.md"


def run(name: str, **changes: Any) -> Any:
    """Run ``scenarios/validation/<name>`` with top-level sections updated by ``changes``."""
    path = (SCENARIOS / name).resolve()
    if not changes:
        return simulator.run(path, plots=False)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return simulator.run(data, plots=False)


# -- what a figure measures in a run ---------------------------------------------------
def _api_returned(result: Any, req: int, handler: str, after: float = -1.0) -> float:
    """When nova-api answered request ``req``'s ``handler`` call."""
    return min(r["t"] for r in result.trace if r["request"] == req and r["event"] == "step.end"
               and r["service"] == "nova-api" and r["name"] == handler and r["t"] >= after)


def _first_poll(returned: float, prepoll: float, interval: float, seen: float) -> float:
    """Rally's ``wait_for_status``: the first poll at or after ``seen``, polls at
    ``returned + prepoll + k × interval``."""
    first = returned + prepoll
    return first + max(0, math.ceil((seen - first) / interval - 1e-9)) * interval


def rally_timer(prepoll: float, interval: float) -> Callable[[Any], float]:
    """Rally's median ``nova.resize`` or ``nova.migrate`` atomic action: from the POST to the poll that sees
    VERIFY_RESIZE (rally-openstack's default prepoll delay and poll interval)."""
    def measure(result: Any) -> float:
        # nova-api's API.resize serves both: a migrate is a resize with no new flavor
        times = [_first_poll(_api_returned(result, r["request"], "resize"), prepoll, interval, r["finished"])
                 - r["submitted"] for r in result.rows if r["status"] == "confirmed"]
        return statistics.median(times)
    return measure


def rally_confirm(result: Any) -> float:
    """Rally's median ``nova.resize_confirm``: confirm POST to the first poll (at once,
    then every 2 s) that sees the instance ACTIVE."""
    times = []
    for r in result.rows:
        if r["status"] != "confirmed":
            continue
        asked = r["finished"] + result.summary["scenario"]["workload"][0]["confirm_after"]
        returned = _api_returned(result, r["request"], "confirm_resize", asked)
        active = min(s["t"] for s in result.trace if s["request"] == r["request"] and s["event"] == "state"
                     and s["t"] >= asked and s.get("vm_state") == "active")
        times.append(_first_poll(returned, 0.0, 2.0, active) - asked)
    return statistics.median(times)


def flow_mibps(result: Any) -> float:
    """The mean rate of the move's first stream (flows.csv ``mean_mibps``)."""
    return result.flows[0].mean_mibps


def flow_seconds(transport: str) -> Callable[[Any], float]:
    def measure(result: Any) -> float:
        f = next(f for f in result.flows if f.transport == transport)
        return f.end - f.start
    return measure


def phase(name: str) -> Callable[[Any], float]:
    return lambda result: result.request(1)[name]


def local_convert_on_dest(result: Any) -> float:
    f = next(f for f in result.flows if f.transport == "qemu-img" and f.source == result.request(1)["dest"])
    return f.end - f.start


def rsync_saves(result: Any) -> float:
    """How much faster rsync -Sz copies than scp (positive: rsync is faster)."""
    scp = run("rsync-vs-scp.yaml", copy={"transport": "scp"})
    return scp.request(1)["disk_copy"] - result.request(1)["disk_copy"]


def rsync_note() -> str:
    scp = run("rsync-vs-scp.yaml", copy={"transport": "scp", "cipher_mibps": 41}).request(1)["disk_copy"]
    today = run("rsync-vs-scp.yaml", copy={"transport": "scp"}).request(1)["disk_copy"]
    rsync = run("rsync-vs-scp.yaml").request(1)["disk_copy"]
    return (f"today's scp fills GigE ({today:.1f} s) and rsync -Sz reads 2 GiB of data at 35 MiB/s and 8 GiB of holes "
            f"at 175: {rsync:.1f} s; with 2012's cipher rate (41 MiB/s) scp takes {scp:.1f} s and rsync saves "
            f"{scp - rsync:.0f} s: the published sign, not its size (the commit does not say how much was data)")


def with_cipher(mibps: float) -> Callable[[], str]:
    return lambda: f"with `copy.cipher_mibps: {mibps:g}`: {run('raw-scp-gige.yaml', copy={'cipher_mibps': mibps}).request(1)['disk_copy']:.1f} s"


def with_disk_write(mibps: float) -> Callable[[], str]:
    def note() -> str:
        data = yaml.safe_load((SCENARIOS / "raw-to-qcow2.yaml").read_text(encoding="utf-8"))
        for h in data["hosts"]:
            h["disk_write_mibps"] = mibps
        return f"with `disk_write_mibps: {mibps:g}`: {local_convert_on_dest(simulator.run(data, plots=False)):.1f} s"
    return note


# -- the table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    figure: str
    source: str
    #: the published value, or its range (low, high)
    published: float | tuple[float, float]
    unit: str
    scenario: str
    measure: Callable[[Any], float]
    #: why the two differ, or agree (a callable: computed from more runs)
    note: str | Callable[[], str] = ""


ROWS = [
    Row("`nova.resize`, median", "Rally `NovaServers.resize_server` (reference §11)", (12, 18), "s",
        "rally-resize.yaml", rally_timer(2.0, 4.0),
        "single-node DevStack, CirrOS; the guest's clean shutdown (3–9 s, assumed) and Rally's 4 s polls "
        "dominate; our API and handlers take tens of milliseconds where a real DevStack's take hundreds"),
    Row("`nova.resize_confirm`, median", "Rally (reference §11)", 3.0, "s", "rally-resize.yaml", rally_confirm,
        "the confirm is ~0.06 s here; Rally's first poll at once misses it, the next at 2 s sees it"),
    Row("`nova.migrate`, median", "Rally `boot_and_migrate_server` (reference §11)", 10.0, "s",
        "rally-migrate.yaml", rally_timer(1.0, 2.0),
        "two DevStack nodes; the 20 MiB overlay crosses in 0.04 s: the shutdown and the 2 s polls make it"),
    Row("scp over 1 GbE", "hjp.at (2017)", 110.0, "MiB/s", "scp-1gbe.yaml", flow_mibps,
        "our links carry their whole 119.2 MiB/s: no TCP/IP or Ethernet framing overhead (about 6 %)"),
    Row("scp, AES, one core", "hjp.at (2017), loopback", (490, 550), "MiB/s", "scp-aes-10gbe.yaml", flow_mibps,
        "`copy.cipher_mibps` (500) binds, not the 10 GbE NIC"),
    Row("scp `-C`, any cipher", "hjp.at (2017)", 35.0, "MiB/s", "scp-compressed.yaml", flow_mibps,
        "`copy.compress_mibps` is this figure"),
    Row("zlib over ssh, 100 % CPU", "openssh-unix-dev (2020): 59 MB/s", 56.3, "MiB/s", "scp-compressed.yaml",
        flow_mibps, "a faster CPU than the default's; `copy.compress_mibps: 56` models it"),
    Row("qcow2 → raw, 10 GiB virtual", "Nova commit 3a3ad54058 (2012)", 20.0, "s", "kilo-flatten.yaml",
        flow_seconds("qemu-img"), "Kilo's flatten at `copy.local_mibps` (500 MiB/s): 10 GiB in 20.48 s"),
    Row("raw 10 GiB over GigE, scp", "Nova commit 3a3ad54058 (2012): 4 min 9 s", 249.0, "s", "raw-scp-gige.yaml",
        phase("disk_copy"), with_cipher(41)),
    Row("raw → qcow2, 10 GiB", "Nova commit 3a3ad54058 (2012): 2 min 33 s", 153.0, "s", "raw-to-qcow2.yaml",
        local_convert_on_dest, with_disk_write(67)),
    Row("rsync `-Sz` faster than scp, 10 GiB raw", "Nova commit 3a3ad54058 (2012)", 30.0, "s", "rsync-vs-scp.yaml",
        rsync_saves, rsync_note),
    Row("guest ignoring ACPI", "reference §11: the whole `shutdown_timeout`", 60.0, "s", "ignore-acpi.yaml",
        phase("power_off"), "destroyed at the timeout"),
    Row("one resize, by hand", "docs/model.md: 0.05 + 0.022 + 0.101 + 0.041 + 0.053 + 12 + 585.143 + 1.053",
        598.463, "s", "../single-resize.yaml", phase("latency"), "the sum of the hops, to the millisecond"),
]


def _published(row: Row) -> str:
    p = row.published
    return f"{p[0]:g}–{p[1]:g} {row.unit}" if isinstance(p, tuple) else f"{p:g} {row.unit}"


def _difference(row: Row, value: float) -> str:
    p = row.published
    if isinstance(p, tuple):
        if p[0] <= value <= p[1]:
            return "within"
        bound = p[0] if value < p[0] else p[1]
    else:
        bound = p
    if round(value, 3) == round(bound, 3):
        return "0"
    return f"{value - bound:+.3g} {row.unit} ({(value - bound) / bound:+.0%})"


def measure(row: Row) -> float:
    return row.measure(run(row.scenario))


def table() -> str:
    lines = ["| figure | published | scenario | simulated | difference | why |", "|---|---|---|---|---|---|"]
    for row in ROWS:
        value = measure(row)
        note = row.note() if callable(row.note) else row.note
        link = f"[{row.scenario}](../scenarios/validation/{row.scenario})"
        lines.append(f"| {row.figure} ({row.source}) | {_published(row)} | {link} | {value:.3f} {row.unit} "
                     f"| {_difference(row, value)} | {note} |")
    return "\n".join(lines) + "\n"


BEFORE = """\
# Validation against published figures

Each row puts a published figure (the reference's calibration section, Nova's own
commit messages, Rally's typical results) or a hand-computed one next to what the
simulator gives for the same setting, with the default model unless the scenario says
otherwise. The scenario of each row is under `scenarios/validation/`, its header says
what it reproduces; `python docs/make_validation.py` recomputes this table (a test
checks that it matches).

"""

AFTER = """
Reading the table:

- **Rally.** The published medians come from real DevStack clouds; their controllers
  spend hundreds of milliseconds per API call and handler where the defaults spend
  tens. What the simulator gets right is the structure: the guest's shutdown and
  Rally's own polls, not the copy, make a CirrOS resize take ten-odd seconds.
- **Copy rates.** The per-stream defaults are the published single-core figures; the
  network binds only below them (1 GbE). The model has no framing overhead, so a
  saturated link carries about 8 % more than a real one.
- **The 2012 figures** (commit 3a3ad54058) come from hardware without AES instructions
  and with spinning disks: with today's defaults the raw copy and the conversion are
  3–7 times faster than measured then; with the per-stream or disk rate of that
  hardware (the notes) the model reproduces them. That is a check of the arithmetic,
  not of the defaults.
- **rsync against scp** depends on the hardware and on how much of the raw image is
  data, which the commit does not say: with today's rates scp over GigE is the faster,
  with 2012's cipher rate rsync -Sz is, as the commit found. zlib's speed depends on
  the data; the model has two rates (data, holes), measured on one machine.
- Not reproduced: the commit's "qcow2 copied unconverted: about 30 s" (it does not say
  how much of the image was allocated) and the tunnelled live-migration rate of commit
  61f122637b (live migration is not modelled).
"""


def render() -> str:
    return BEFORE + table() + AFTER


def main() -> None:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
