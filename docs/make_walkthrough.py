#!/usr/bin/env python3
"""Regenerate docs/walkthrough.md from what `run_sim.py step` prints today.

    python docs/make_walkthrough.py

The prose is below; the step output and the sequence diagram are produced by running
the single-resize scenario, so the document cannot drift from the code (a test
compares the embedded output with a fresh run).
"""
from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.commands.step import step  # noqa: E402

BEFORE = """\
# Walkthrough: one resize, hop by hop

This walks through the resize of `scenarios/single-resize.yaml`: the instance `web01`
(m1.small, 20 GiB of its disk in use) on `cmp01` is resized to m1.medium at t = 10 s
and confirmed two minutes after it reaches VERIFY_RESIZE. Every time in the scenario
is a constant, so each number below can be checked by hand. Run it yourself, one hop
per Enter:

    python run_sim.py step scenarios/single-resize.yaml

## The flow

This is the flow of the Kilo write-up the project started from
(`shared/seeds/nova-resize-flow-zh.txt`), hop by hop, with the service, the Nova
function and the kind of message. (The seed's table of contents puts `prep_resize` on
the source and `resize_instance` on the destination; its text, and Nova, have them the
other way round, as here.)

| hop | where | Nova function | the message that starts it |
|---|---|---|---|
| 1 | nova-api | `API.resize` (`nova/compute/api.py`) | the user's HTTP request |
| 2 | nova-conductor | `ComputeTaskManager.migrate_server` → `_cold_migrate` | **call** from nova-api: the API worker waits |
| 3 | nova-scheduler | `SchedulerManager.select_destinations` | **call** from the conductor |
| 4 | nova-conductor | `_cold_migrate` carries on | the scheduler's reply |
| 5 | nova-compute on the destination | `ComputeManager.prep_resize` (the resize claim) | **cast** from the conductor |
| 6 | nova-api | `API.resize` carries on: HTTP 202 | the conductor's reply |
| 7 | nova-compute on the source | `ComputeManager.resize_instance` (power off, copy) | **cast** from the destination |
| 8 | nova-compute on the destination | `ComputeManager.finish_resize` (start the guest) | **cast** from the source |
| 9 | nova-api | `API.confirm_resize` | the user's HTTP request |
| 10 | nova-compute on the source | `ComputeManager.confirm_resize` (free the old flavor) | **cast** from nova-api |

The states move as in Nova: `task_state` becomes `resize_prep` in the API,
the Migration record appears `pre-migrating` with the destination's claim, turns
`migrating` / `resize_migrating` when the source starts, `post-migrating` /
`resize_migrated` after the copy (and `instance.host` becomes the destination),
`resize_finish` on the destination, then `finished` and vm_state `resized`: the API
shows VERIFY_RESIZE, and the request's latency (598.463 s) ends there. The confirm
frees the source.

## What `step` prints

"""

AFTER = """
Reading it: a hop's header says who sent the message to whom and how (HTTP, CALL,
CAST, or REPLY when a handler carries on after the answer to its call); the lines
under it are what the handler did, in order. The latency adds up hop by hop:
0.050 (API) + 0.022 (conductor, with the reply's transit) + 0.101 (scheduler, with the
call's transit) + 0.041 (prep_resize: 0.011, and 0.030 for its object calls through the
conductor) + 0.053 (resize_instance around the driver, 0.042 of it object calls) + 12
(power-off) + 585.143 (20 GiB through one compressing rsync stream, which one core's
zlib holds at 35 MiB/s, below the source's 1 Gbit/s NIC) + 1.053 (finish_resize: the
domain runs a second after its creation, and 0.042 s of object calls; Nova does not
wait for the guest OS) = 598.463 s.

## The sequence diagram

`step` also draws the request as a sequence diagram (`sequence.png` and `.svg` in the
out directory): solid arrows are calls, dashed casts, dotted replies; boxes are
handlers with their durations, the darker ones the driver's work; the states are
written where they change.

![sequence diagram of the single resize](img/single-resize-sequence.png)

## Under load

Nothing in a hop changes when the cloud is busy, but hops wait. In
`scenarios/teaching/under-load.yaml` 6 resizes arrive per second at one scheduler
process that serves 5 per second: `select_destinations` calls queue at the scheduler,
and, because Kilo's API waits on the conductor which waits on the scheduler, API and
conductor workers are held and their queues grow too. `step` shows each hop's wait
and how many messages were ahead of it:

    python run_sim.py step scenarios/teaching/under-load.yaml --request 40

The whole run opens in ui.perfetto.dev (`timeline.json`): one track per worker, the
request's hops linked by arrows, and each service's queue length as a counter.

## When something fails

- A claim refused on the destination (`scenarios/teaching/race.yaml`, request 2): the
  destination calls the conductor again, the scheduler runs with `RetryFilter`
  excluding the host tried, and the request carries on elsewhere as attempt 2.
- No host passes the filters (`scenarios/fidelity/no-valid-host.yaml`): the scheduler
  never sends `select_destinations.end`; the conductor puts the task state back and
  the API answers 400.
- A resize to a smaller disk (`models/compute.py`): the driver refuses before the
  guest is touched; vm_state back to active, migration `error`.
- A conductor slower than `rpc_response_timeout`: the API answers 500 while the
  conductor carries the move through.

`python run_sim.py explain SCENARIO --request N` prints only the scheduler's reasons.
"""


def main() -> None:
    out = ROOT / "results" / "single-resize"
    buf = io.StringIO()
    step(str(ROOT / "scenarios" / "single-resize.yaml"), 1, out=str(out), pause=False, stdout=buf)
    text = buf.getvalue().replace(str(out), "results/single-resize")
    doc = BEFORE + "<!-- step output begins -->\n```text\n" + text + "```\n<!-- step output ends -->\n" + AFTER
    (ROOT / "docs" / "walkthrough.md").write_text(doc, encoding="utf-8")
    shutil.copy(out / "sequence.png", ROOT / "docs" / "img" / "single-resize-sequence.png")


if __name__ == "__main__":
    main()
