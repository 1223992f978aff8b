"""Run a scenario: load and validate → build the cloud → run → collect → write.

``run`` is the Python API; the command line calls it too. The run ends when no
request has anything still to come (periodic tasks alone do not keep it going), or at
``until``. With an ``out`` directory the trace is streamed to disk as it happens and
the tables, summary and plots are written there, each file atomically; once all are
in place, the files an earlier run left there and this one did not write again are
removed (a failed or interrupted run leaves them as they were). Files no run wrote
are left alone; the command line refuses such a directory unless ``--force``.
"""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import IO, Any, Iterator

from models.build import Cloud, Sinks, build
from models.instance_actions import ActionEventRow, InstanceActionRow
from models.request import COLUMNS
from models.scenario import LoadedScenario, load_scenario
from simulator.commands.results import OutputDir, Result, rows_to_csv, tuples_to_csv
from simulator.commands.summary import build_summary, snapshot
from simulator.engine.environment import Environment
from simulator.engine.random_streams import RandomStreams

#: timeline.json is written by default for workloads of at most this many requests
TIMELINE_MAX = 5000


def run(scenario: str | Path | dict[str, Any] | LoadedScenario, seed: int | None = None,
        out: str | Path | None = None, *, until: float | None = None, progress: bool = False,
        plots: bool = True, keep_trace: bool = False, explain: tuple[int, ...] = (),
        timeline: bool | None = None, sequence: int | None = None, warmup: float = 0.0) -> Result:
    """Simulate ``scenario`` (a YAML path, a dict, or a loaded scenario).

    ``seed`` overrides the scenario's seed. Returns a ``Result`` with the summary, one
    row per request and the trace. Raises ``ScenarioError`` for bad input, before
    anything is written. With ``out``: ``timeline`` writes timeline.json (by default
    when the workload has at most ``TIMELINE_MAX`` requests) and ``sequence`` draws
    that request's sequence diagram.
    """
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    if seed is None:
        seed = loaded.model.seed
    if until is not None and until <= 0:
        raise ValueError("until must be > 0 seconds")
    if warmup < 0:
        raise ValueError("warmup must be >= 0 seconds")
    wall0 = time.perf_counter()
    env = Environment()
    sinks = Sinks.in_memory()
    explained = set(explain) | ({sequence} if sequence is not None else set())
    cloud = build(loaded, env, RandomStreams(seed), sinks, explain=explained)  # may raise ScenarioError
    if timeline is None:
        timeline = cloud.workload.total <= TIMELINE_MAX
    timeline = bool(timeline and out is not None)
    if timeline:
        for pool in cloud.pools().values():
            pool.depth_series = []
    outdir = OutputDir(out) if out is not None else None
    try:
        with _streamed(sinks, outdir, keep_trace):
            bar = _progress(cloud) if progress else None
            start = _warmup_cut(cloud, warmup)
            stopped_early = cloud.run(until)
            if bar is not None:
                bar.close()
        summary = build_summary(cloud, seed=seed, sim_time=env.now, wall=time.perf_counter() - wall0,
                                events=env.events_processed, until=until, warmup=warmup, start=start or None)
        rows = [r.row() for r in cloud.book.requests]
        result = Result(summary=summary, rows=rows, out=outdir.path if outdir else None,
                        _trace=sinks.trace.records, scheduling=sinks.scheduling.rows, flows=sinks.flows.rows,
                        links=cloud.copier.bandwidth.resources, actions=sinks.actions.rows,
                        instance_actions=cloud.actions.action_rows(),
                        instance_action_events=cloud.actions.event_rows(),
                        explained={r.request: r.explain for r in cloud.book.requests if r.explain},
                        initial_states=dict(cloud.initial_states))
        if outdir is not None:
            _write(result, cloud, outdir, plots=plots, timeline=timeline, sequence=sequence)
        return result
    finally:
        if outdir is not None:
            outdir.abandon()


@contextlib.contextmanager
def _streamed(sinks: Sinks, outdir: OutputDir | None, keep_trace: bool) -> Iterator[None]:
    """With an out directory, the trace and the tables go to its files as the run
    makes them (closed when the run is over, or fails); without, they stay in memory."""
    files: list[IO[str]] = []
    try:
        if outdir is not None:
            trace = open(outdir.temp("trace.jsonl"), "w", encoding="utf-8", buffering=1 << 20)
            files.append(trace)
            sinks.trace.attach(trace, keep=keep_trace)
            for name, table in (("scheduling.csv", sinks.scheduling), ("flows.csv", sinks.flows),
                                ("operator_actions.csv", sinks.actions)):
                f = open(outdir.temp(name), "w", encoding="utf-8", newline="")
                files.append(f)
                table.attach(f)
        yield
    finally:
        for f in files:
            f.close()


def _warmup_cut(cloud: Cloud, warmup: float) -> dict[str, Any]:
    """The services' integrals at the end of the warm-up (filled in then), to
    measure from there on."""
    start: dict[str, Any] = {}
    if warmup > 0:
        env = cloud.env

        def cut() -> Any:
            yield env.timeout(warmup)
            start.update(snapshot(cloud, env.now))
        env.process(cut())
    return start


def _write(result: Result, cloud: Cloud, outdir: OutputDir, *, plots: bool, timeline: bool,
           sequence: int | None) -> None:
    """requests.csv, the plots and views, and summary.json (last) into ``outdir``."""
    outdir.write_text("requests.csv", rows_to_csv(COLUMNS, result.rows))
    outdir.write_text("instance_actions.csv", tuples_to_csv(InstanceActionRow._fields, result.instance_actions))
    outdir.write_text("instance_action_events.csv", tuples_to_csv(ActionEventRow._fields,
                                                                  result.instance_action_events))
    if plots:
        from plots.run_plots import write_run_plots, write_states_plot
        write_run_plots(result, outdir)
        write_states_plot(result, outdir.read_pending_jsonl("trace.jsonl"), outdir)
    if timeline or sequence is not None:
        _write_views(result, cloud, outdir, timeline, sequence)
    outdir.write_text("summary.json", json.dumps(result.summary, indent=2) + "\n")
    outdir.commit()


def _write_views(result: Result, cloud: Cloud, outdir: OutputDir, timeline: bool, sequence: int | None) -> None:
    """timeline.json for the whole run; sequence.png / .svg for one request."""
    if timeline:
        from simulator.commands.timeline import write_timeline

        queues = {name: pool.depth_series for name, pool in cloud.pools().items()
                  if pool.depth_series is not None and (pool.depth_series or not name.startswith("nova-compute"))}
        write_timeline(outdir.read_pending_jsonl("trace.jsonl"), queues, outdir.temp("timeline.json"))
    if sequence is not None and 1 <= sequence <= len(result.rows):
        from plots.sequence import draw_sequence

        records = [r for r in outdir.read_pending_jsonl("trace.jsonl") if r["request"] == sequence]
        row = result.request(sequence)
        title = (f"{result.summary['scenario']['name']}: request {sequence}, {row['op']} {row['instance']} "
                 f"({row['flavor_old']} → {row['flavor_new']}), {row['status']}")
        draw_sequence(records, outdir.temp("sequence.png"), outdir.temp("sequence.svg"), title=title,
                      source=row["source"])


def _progress(cloud: Cloud) -> Any:
    """A progress bar of requests settled, shown only when the run takes > 2 s."""
    from tqdm import tqdm

    bar = tqdm(total=cloud.workload.total, unit="req", delay=2.0, leave=False, disable=None,
               dynamic_ncols=True, desc="requests")
    env = cloud.env

    def tick(_req: Any) -> None:
        bar.update(1)
        bar.set_postfix_str(f"t={env.now:,.0f}s", refresh=False)

    cloud.book.on_settle = tick
    return bar
