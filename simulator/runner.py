"""Run a scenario: load and validate → build the cloud → run → collect → write.

``run`` is the Python API; the command line calls it too. The run ends when no
request has anything still to come (periodic tasks alone do not keep it going), or at
``until``. With an ``out`` directory the trace is streamed to disk as it happens and
the tables, summary and plots are written there, each file atomically.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from simulator.engine import Environment
from simulator.random_streams import RandomStreams
from simulator.recorder import TableStream, TraceRecorder
from simulator.results import OutputDir, Result, rows_to_csv
from simulator.scenario import LoadedScenario, load_scenario


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
    from models.cloud import Cloud
    from models.request import COLUMNS
    from simulator.summary import build_summary

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    if seed is None:
        seed = loaded.model.seed
    if until is not None and until <= 0:
        raise ValueError("until must be > 0 seconds")
    if warmup < 0:
        raise ValueError("warmup must be >= 0 seconds")
    wall0 = time.perf_counter()
    env = Environment()
    streams = RandomStreams(seed)
    recorder = TraceRecorder(None)
    cloud = Cloud(loaded, env, streams, recorder)  # may still raise ScenarioError (placement)
    cloud.explain.update(explain)
    if sequence is not None:
        cloud.explain.add(sequence)
    if timeline is None:
        timeline = cloud.workload.total <= TIMELINE_MAX
    timeline = bool(timeline and out is not None)
    if timeline:
        for pool in _pools(cloud).values():
            pool.depth_series = []
    outdir = OutputDir(out) if out is not None else None
    trace_file = sched_file = flows_file = actions_file = None
    try:
        if outdir is not None:
            trace_file = open(outdir.temp("trace.jsonl"), "w", encoding="utf-8", buffering=1 << 20)
            recorder.attach(trace_file, keep=keep_trace)
            sched_file = open(outdir.temp("scheduling.csv"), "w", encoding="utf-8", newline="")
            cloud.scheduling = TableStream(cloud.scheduling.columns, sched_file)
            flows_file = open(outdir.temp("flows.csv"), "w", encoding="utf-8", newline="")
            cloud.flows = cloud.copier.rows = TableStream(cloud.flows.columns, flows_file)
            actions_file = open(outdir.temp("actions.csv"), "w", encoding="utf-8", newline="")
            cloud.actions = TableStream(cloud.actions.columns, actions_file)
        bar = _progress(cloud) if progress else None
        start: dict[str, Any] = {}
        if warmup > 0:  # measure the services from the warm-up on
            from simulator.summary import snapshot

            def cut() -> Any:
                yield env.timeout(warmup)
                start.update(snapshot(cloud, env.now))
            env.process(cut())
        cloud.start()
        # stopped at --until with events still to come: the open requests are in
        # flight; with nothing left to happen, they are stuck
        stopped_early = env.run_until(cloud.done, until)
        if bar is not None:
            bar.close()
        cloud.close_books(stopped_early)
        for f in (trace_file, sched_file, flows_file, actions_file):
            if f is not None:
                f.close()
        rows = [r.row() for r in cloud.requests]
        summary = build_summary(cloud, seed=seed, sim_time=env.now,
                                wall=time.perf_counter() - wall0,
                                events=env.events_processed, until=until, warmup=warmup,
                                start=start or None)
        result = Result(summary=summary, rows=rows, out=outdir.path if outdir else None,
                        _trace=recorder.records, scheduling=cloud.scheduling.rows,
                        flows=cloud.flows.rows, links=cloud.copier.bandwidth.resources,
                        actions=cloud.actions.rows,
                        explained={r.request: r.explain for r in cloud.requests if r.explain},
                        initial_states=dict(cloud.initial_states))
        if outdir is not None:
            outdir.write_text("requests.csv", rows_to_csv(COLUMNS, rows))
            if plots:
                from plots.run_plots import write_run_plots, write_states_plot
                write_run_plots(result, outdir)
                write_states_plot(result, _read_trace(outdir), outdir)
            if timeline or sequence is not None:
                _write_views(result, cloud, outdir, timeline, sequence)
            outdir.write_text("summary.json", json.dumps(summary, indent=2) + "\n")
            outdir.commit()
        return result
    finally:
        for f in (trace_file, sched_file, flows_file, actions_file):
            if f is not None and not f.closed:
                f.close()
        if outdir is not None:
            outdir.abandon()


#: timeline.json is written by default for workloads of at most this many requests
TIMELINE_MAX = 5000


def _pools(cloud: Any) -> dict[str, Any]:
    pools = {"nova-api": cloud.api.pool, "nova-conductor": cloud.conductor.pool,
             "nova-scheduler": cloud.scheduler.pool}
    for c in cloud.computes:
        pools[f"nova-compute@{c.host}"] = c.pool
    return pools


def _write_views(result: Result, cloud: Any, outdir: OutputDir, timeline: bool, sequence: int | None) -> None:
    """timeline.json for the whole run; sequence.png / .svg for one request."""
    if timeline:
        from simulator.timeline import write_timeline

        queues = {name: pool.depth_series for name, pool in _pools(cloud).items()
                  if pool.depth_series is not None and (pool.depth_series or not name.startswith("nova-compute"))}
        write_timeline(_read_trace(outdir), queues, outdir.temp("timeline.json"))
    if sequence is not None and 1 <= sequence <= len(result.rows):
        from plots.sequence import draw_sequence

        records = [r for r in _read_trace(outdir) if r["request"] == sequence]
        row = result.request(sequence)
        title = (f"{result.summary['scenario']['name']}: request {sequence}, {row['op']} {row['instance']} "
                 f"({row['flavor_old']} → {row['flavor_new']}), {row['status']}")
        draw_sequence(records, outdir.temp("sequence.png"), outdir.temp("sequence.svg"), title=title,
                      source=row["source"])


def _read_trace(outdir: OutputDir) -> Any:
    """The trace records just written (the temporary file, before it is renamed)."""
    import json as _json

    with open(outdir.path / ".trace.jsonl.partial", encoding="utf-8") as f:
        for line in f:
            yield _json.loads(line)


def _progress(cloud: Any) -> Any:
    """A progress bar of requests settled, shown only when the run takes > 2 s."""
    from tqdm import tqdm

    bar = tqdm(total=cloud.workload.total, unit="req", delay=2.0, leave=False, disable=None,
               dynamic_ncols=True, desc="requests")
    env = cloud.env

    def tick(_req: Any) -> None:
        bar.update(1)
        bar.set_postfix_str(f"t={env.now:,.0f}s", refresh=False)

    cloud.on_settle = tick
    return bar
