"""Results of a run: per-request rows, the summary, and writing them safely.

Files are written under temporary names and renamed into place only when complete,
so an interrupted run never leaves a file that looks finished. ``summary.json`` is
renamed last: it marks a directory as a run's. Only once every new file is in place
are the files an earlier run left there, and this one did not write again, removed:
a run that fails or is interrupted leaves the earlier results as they were.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from models.scheduler import SchedulingRecord
from simulator.engine.errors import ScenarioError


def format_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(round(v, 6))
    return str(v)


def tuples_to_csv(columns: tuple[str, ...], rows: list[tuple]) -> str:
    """A CSV table of tuples (None as an empty cell)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows(["" if v is None else v for v in r] for r in rows)
    return buf.getvalue()


def rows_to_csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([format_cell(r[c]) for c in columns])
    return buf.getvalue()


#: the file that marks a directory as a run's out directory (renamed into place last)
MARKER = "summary.json"

#: every file a run writes in its out directory, with those ``run_sim.py plot`` and
#: ``python -m plots.copy_concurrency`` add to it; in a directory holding ``MARKER``
#: these are an earlier run's, replaced or removed by the next run there
RUN_FILES = frozenset({
    "trace.jsonl", "scheduling.csv", "flows.csv", "operator_actions.csv", "requests.csv", MARKER,
    "instance_actions.csv", "instance_action_events.csv",
    "actions.csv",  # operator_actions.csv's name before (an older run's, removed by the next)
    "latency.png", "phases.png", "links.png", "states.png", "timeline.json", "sequence.png", "sequence.svg",
    "gantt.png", "queues.png", "copy_concurrency.png",
})


def _own(name: str, run_dir: bool) -> bool:
    """Whether a file of this name in an out directory is one a run wrote: a run's
    file in a run directory, or the temporary file of a run that never finished."""
    if name.startswith(".") and name.endswith(".partial"):
        return name[1:-len(".partial")] in RUN_FILES | {"write-test"}
    return run_dir and name in RUN_FILES


def own_files(path: str | Path) -> list[str]:
    """The files in the directory ``path`` that an earlier run wrote."""
    d = Path(path)
    if not d.is_dir():
        return []
    run_dir = (d / MARKER).is_file()
    return sorted(e.name for e in d.iterdir() if e.is_file() and _own(e.name, run_dir))


def foreign_files(path: str | Path) -> list[str]:
    """The entries of the directory ``path`` that no run wrote (a user's files, a
    sweep's, a directory): the command line refuses such an out directory."""
    d = Path(path)
    if not d.is_dir():
        return []
    own = set(own_files(d))
    return sorted(e.name for e in d.iterdir() if e.name not in own)


class OutputDir:
    """Writes a run's files atomically: temporary name first, renamed when complete;
    then removes the files of an earlier run there that this one did not write.
    Files that no run wrote are left alone."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test.partial"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise ScenarioError(str(path), "--out", f"cannot write results there ({exc.strerror or exc}); "
                                "expected a directory that can be created and written") from None
        self._pending: list[tuple[Path, Path]] = []

    def temp(self, name: str) -> Path:
        final = self.path / name
        tmp = self.path / f".{name}.partial"
        self._pending.append((tmp, final))
        return tmp

    def read_pending_jsonl(self, name: str) -> Iterator[dict[str, Any]]:
        """The records of a JSON-lines file written in this directory and not yet
        committed (the trace, read back to draw the views)."""
        with open(self.path / f".{name}.partial", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)

    def write_text(self, name: str, text: str) -> None:
        self.temp(name).write_text(text, encoding="utf-8")

    def commit(self) -> None:
        """Move every completed file into place (summary.json last, as the marker),
        then remove what an earlier run left here and this one did not write again."""
        earlier = own_files(self.path)  # before the renames: is an earlier run's marker here?
        order = sorted(self._pending, key=lambda p: p[1].name == MARKER)
        written = set()
        for tmp, final in order:
            if tmp.exists():
                os.replace(tmp, final)
                written.add(final.name)
        self._pending.clear()
        for name in earlier:  # only now that the new run is complete
            if name not in written:
                (self.path / name).unlink(missing_ok=True)

    def abandon(self) -> None:
        for tmp, _ in self._pending:
            tmp.unlink(missing_ok=True)
        self._pending.clear()


@dataclass
class Result:
    """What ``simulator.run`` returns: the summary, the per-request rows and the trace."""

    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    out: Path | None = None
    _trace: list[dict[str, Any]] | None = field(default=None, repr=False)
    #: scheduling.csv's rows, when the run kept them in memory (no out directory)
    scheduling: list[tuple] | None = field(default=None, repr=False)
    #: flows.csv's rows, when kept in memory
    flows: list[tuple] | None = field(default=None, repr=False)
    #: the bandwidth model's resources (links, disks), with their utilisation series
    links: dict[str, Any] = field(default_factory=dict, repr=False)
    #: operator_actions.csv's rows, when kept in memory
    actions: list[tuple] | None = field(default=None, repr=False)
    #: instance_actions.csv's and instance_action_events.csv's rows
    instance_actions: list[tuple] = field(default_factory=list, repr=False)
    instance_action_events: list[tuple] = field(default_factory=list, repr=False)
    #: instances per state at the start of the run
    initial_states: dict[str, int] = field(default_factory=dict, repr=False)
    #: full scheduling records of the requests asked for with ``explain``
    explained: dict[int, list[SchedulingRecord]] = field(default_factory=dict, repr=False)

    @property
    def trace(self) -> list[dict[str, Any]]:
        """Every trace record (read back from trace.jsonl when the run wrote one)."""
        if self._trace is None:
            self._trace = list(self.iter_trace())
        return self._trace

    def iter_trace(self) -> Iterator[dict[str, Any]]:
        if self._trace is not None:
            yield from self._trace
            return
        if self.out is None:
            return
        with open(self.out / "trace.jsonl", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)

    def request(self, number: int) -> dict[str, Any]:
        """The row of request ``number`` (numbered from 1)."""
        return self.rows[number - 1]
