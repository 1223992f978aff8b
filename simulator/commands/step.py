"""The ``step`` command's terminal side: pauses between hops, colour on terminals.

Between hops it waits for Enter (``c`` then Enter continues to the end, ``q`` quits).
With ``--no-pause``, or when standard output is not a terminal, it prints everything
at once in plain text, so it can be piped, tested and kept as a golden file.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

from models.scenario import LoadedScenario, load_scenario
from simulator.commands.narrate import STYLES, build_hops, narrate
from simulator.commands.results import Result
from simulator.commands.runner import run
from simulator.engine.errors import ScenarioError


def step_text(loaded: LoadedScenario, request: int, seed: int | None, out: Path | None) -> tuple[list, Result]:
    """Run the scenario and narrate ``request``: the blocks and the run's result."""
    result = run(loaded, seed=seed, out=out, sequence=request, explain=(request,),
                 keep_trace=out is None, timeline=None)
    if not 1 <= request <= len(result.rows):
        raise ScenarioError(loaded.source, "--request", f"request {request} does not exist: the run had "
                            f"{len(result.rows)} request(s), numbered from 1")
    records = [r for r in result.iter_trace() if r["request"] == request]
    hops = build_hops(records, result.explained.get(request), [h.name for h in loaded.hosts])
    return narrate(hops), result


def header(result: Result, request: int) -> list[str]:
    row = result.request(request)
    return [f"Request {request} of scenario {result.summary['scenario']['name']}: {row['op']} "
            f"{row['instance']} ({row['flavor_old']} → {row['flavor_new']}) from {row['source']}",
            f"final status {row['status']}" + (f" ({row['reason']})" if row["reason"] else "")
            + (f", latency {row['latency']:.6f} s to VERIFY_RESIZE" if row["latency"] is not None
               and row["status"] in ("confirmed", "reverted", "resized") else ""), ""]


def step(path: str, request: int, *, seed: int | None = None, out: str | None = None,
         pause: bool = True, stdout: IO[str] | None = None, stdin: IO[str] | None = None) -> int:
    """Narrate one request of a scenario; 0 on success."""
    stdout = stdout or sys.stdout
    stdin = stdin or sys.stdin
    loaded = load_scenario(path)
    total = sum(e.count for e in loaded.model.workload)
    if not 1 <= request <= total:  # known before running: write nothing
        raise ScenarioError(loaded.source, "--request", f"request {request} does not exist: the "
                            f"workload makes {total} request(s), numbered from 1")
    outdir = Path(out) if out is not None else Path("results") / loaded.model.name
    blocks, result = step_text(loaded, request, seed, outdir)
    tty = stdout.isatty()
    interactive = pause and tty and stdin.isatty()
    console = None
    if tty:
        from rich.console import Console

        console = Console(file=stdout, highlight=False, soft_wrap=True)
    for line in header(result, request):
        _print(console, stdout, "head", line)
    for i, block in enumerate(blocks):
        for style, text in block:
            _print(console, stdout, style, text)
        if interactive and i < len(blocks) - 1:
            stdout.write("[Enter] next hop · c then Enter: continue to the end · q then Enter: quit ")
            stdout.flush()
            answer = stdin.readline().strip().lower()
            if answer == "q":
                break
            if answer == "c":
                interactive = False
    _print(console, stdout, "dim", "")
    _print(console, stdout, "dim", f"sequence diagram: {outdir / 'sequence.png'} (and .svg)")
    _print(console, stdout, "dim", f"the whole run: open {outdir / 'timeline.json'} in ui.perfetto.dev")
    return 0


def _print(console: Any, stdout: IO[str], style: str, text: str) -> None:
    if console is None:
        stdout.write(text + "\n")
        return
    from rich.text import Text

    st = {"rule": "bold cyan", "head": "bold"}.get(style, STYLES.get(style, ""))
    console.print(Text(text, style=st))
