"""The command line: ``run_sim.py [run|check|step|explain|sweep|plot] ...``.

With no argument it runs ``scenarios/default.yaml`` into ``results/default/``. Bad
input prints one line naming the file, the key path and what is expected, and exits
with status 2 having written nothing; so does an out directory holding files that no
run wrote (unless ``--force``). Ctrl-C exits with status 130 and SIGTERM with 143
(128 + the signal's number), both leaving no partial file and the out directory's
earlier results as they were.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import typing
from pathlib import Path
from typing import Iterator, Sequence

from simulator.engine.errors import ScenarioError
from simulator.engine.units import duration, duration_or_zero

DEFAULT_SCENARIO = Path("scenarios") / "default.yaml"


def _default_scenario() -> Path:
    """scenarios/default.yaml in the current directory, else beside run_sim.py."""
    if DEFAULT_SCENARIO.exists():
        return DEFAULT_SCENARIO
    return Path(__file__).resolve().parents[2] / DEFAULT_SCENARIO


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return v


def _positive_int(text: str) -> int:
    v = _nonneg_int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return v


_FORCE_HELP = ("write into an out directory that holds files no run wrote: the files of an "
               "earlier run there are replaced or removed, the others left alone (without "
               "--force such a directory is refused; an earlier run's own directory never is)")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> "typing.NoReturn":  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="run_sim.py",
        description="Simulate OpenStack Nova's resize and cold-migration pipeline. "
                    "With no command, runs scenarios/default.yaml into results/default/.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    r = sub.add_parser("run", help="run a scenario and write its results",
                       description="Run a scenario; write trace.jsonl, requests.csv, summary.json "
                                   "and plots into the out directory.")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--seed", type=_nonneg_int, help="override the scenario's seed")
    r.add_argument("--out", help="output directory (default: results/<scenario name>/)")
    r.add_argument("--until", type=duration, metavar="DURATION",
                   help="stop at this simulated time, in seconds or a duration such as 1h or 90 min; "
                        "unfinished requests are reported in flight")
    r.add_argument("--quiet", action="store_true", help="print nothing but errors")
    r.add_argument("--no-plots", action="store_true", help="skip latency.png, phases.png and links.png")
    r.add_argument("--request", type=_positive_int, metavar="ID",
                   help="also draw this request's sequence diagram (sequence.png, sequence.svg)")
    tl = r.add_mutually_exclusive_group()
    tl.add_argument("--timeline", dest="timeline", action="store_true", default=None,
                    help="write timeline.json (Perfetto / chrome://tracing); the default up to "
                         "5,000 requests")
    tl.add_argument("--no-timeline", dest="timeline", action="store_false")
    r.add_argument("--force", action="store_true", help=_FORCE_HELP)
    c = sub.add_parser("check", help="validate a scenario and summarise it",
                       description="Validate a scenario (schema, names, initial placement) "
                                   "and print a one-screen summary. Runs nothing.")
    c.add_argument("scenario", help="scenario YAML file")
    st = sub.add_parser("step", help="replay one request hop by hop, as a student would follow it",
                        description="Replay a scenario and narrate one request, one hop per screen: "
                                    "where it runs (service, host, Nova function), how the message "
                                    "came (call, cast, reply), what changed (states, notifications, "
                                    "resources), why the scheduler chose its host. Enter shows the "
                                    "next hop, c continues to the end, q quits. Also writes the "
                                    "run's outputs and the request's sequence diagram.")
    _request_args(st)
    st.add_argument("--no-pause", action="store_true",
                    help="print every hop at once (also when standard output is not a terminal)")
    st.add_argument("--out", help="output directory (default: results/<scenario name>/)")
    st.add_argument("--force", action="store_true", help=_FORCE_HELP)
    sw = sub.add_parser("sweep", help="run a parameter sweep with replications",
                        description="Run a scenario at every point of a sweep (values varied by key "
                                    "path), each point replicated with independent seeds; write "
                                    "runs.csv, points.csv (means, sd, 95%% CI), sweep.json and the "
                                    "plots. A sweep started again skips the runs already done.")
    sw.add_argument("sweep_file", nargs="?", help="sweep YAML file (or give --base and --vary)")
    sw.add_argument("--base", help="base scenario (overrides the file's)")
    sw.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2",
                    help="a scenario key path and its values, e.g. workload[0].arrival.rate=0.1,0.2")
    sw.add_argument("--replications", type=_positive_int, help="replications per point")
    sw.add_argument("--metric", action="append", default=[], metavar="PATH",
                    help="a summary.json path to collect, e.g. latency.p90 (repeatable)")
    sw.add_argument("--zip", action="store_true", help="vary the keys together instead of a grid")
    sw.add_argument("--seed", type=_nonneg_int, help="the sweep's seed (replication seeds derive from it)")
    sw.add_argument("--warmup", type=duration_or_zero, metavar="DURATION",
                    help="ignore requests arriving before this, in seconds or a duration such as 1h")
    sw.add_argument("--out", help="output directory (default: results/sweep-<name>/)")
    sw.add_argument("--force", action="store_true",
                    help="write into an out directory that holds files no sweep wrote (they are left "
                         "alone); without it such a directory is refused. A sweep's own directory is "
                         "resumed either way")
    sw.add_argument("--jobs", type=_positive_int, default=1, help="local processes (default 1)")
    sw.add_argument("--dask", metavar="ADDRESS", help="run on a Dask cluster: its scheduler address, or 'local'")
    sw.add_argument("--quiet", action="store_true", help="print nothing but errors")
    pl = sub.add_parser("plot", help="draw the plots of a sweep or of a run directory",
                        description="For a sweep directory: metric against a varied parameter with "
                                    "confidence bands, throughput against offered load with the "
                                    "saturation point, stacked phases, utilisation. For a run "
                                    "directory: a Gantt chart of the migrations and the queues over time.")
    pl.add_argument("directory", help="a sweep's or a run's out directory")
    e = sub.add_parser("explain", help="show why a request's destination was chosen",
                       description="Replay a scenario and print, for one request, each scheduling "
                                   "attempt: every filter's verdict (hosts in → out, which were "
                                   "removed), the weights of the best hosts, the host chosen and "
                                   "whether its claim held.")
    _request_args(e)
    return p


def _request_args(p: argparse.ArgumentParser) -> None:
    """SCENARIO --request ID --seed N, shared by the commands about one request."""
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--request", type=_positive_int, default=1, metavar="ID",
                   help="the request, numbered from 1 in order of arrival (default 1)")
    p.add_argument("--seed", type=_nonneg_int, help="override the scenario's seed")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, so that it cleans up as after Ctrl-C."""


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While the command runs, SIGTERM raises ``Terminated``; the handler there before
    is put back after. (Only in the main thread, the only one Python lets set it; a
    process forked meanwhile, a sweep's worker, dies of SIGTERM as usual.)"""
    pid = os.getpid()

    def handler(signum: int, _frame: object) -> None:
        if os.getpid() != pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with _sigterm_interrupts():
        try:
            return _main(args)
        except Terminated:  # a second SIGTERM, during the clean-up of the first
            return 128 + signal.SIGTERM


def _main(args: argparse.Namespace) -> int:
    try:
        if args.command is None:
            scenario = _default_scenario()
            return _run(str(scenario), seed=None, out=Path("results") / "default", until=None,
                        quiet=False, plots=True, force=False)
        if args.command == "check":
            from simulator.commands.check import check

            return check(args.scenario)
        if args.command == "explain":
            return _explain(args.scenario, args.request, args.seed)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "plot":
            from plots.sweep_plots import plot_directory

            for path in plot_directory(args.directory):
                print(path)
            return 0
        if args.command == "step":
            from simulator.commands.step import step

            if not args.force:
                _refuse_foreign(args.out, args.scenario)
            return step(args.scenario, args.request, seed=args.seed, out=args.out, pause=not args.no_pause)
        return _run(args.scenario, seed=args.seed, out=args.out, until=args.until,
                    quiet=args.quiet, plots=not args.no_plots, request=args.request,
                    timeline=args.timeline, force=args.force)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated): exit 128 + the signal
        what, code = ("terminated", 128 + signal.SIGTERM) if isinstance(exc, Terminated) else ("interrupted", 130)
        if args.command == "sweep":
            print(f"{what}: the runs finished so far are kept; run the sweep again to resume",
                  file=sys.stderr)
        else:
            print(f"{what}: no complete output was written (an earlier run's results there are kept)",
                  file=sys.stderr)
        return code
    except BrokenPipeError:  # the reader went away (``| head``): not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0


def _run(path: str, *, seed: int | None, out: str | Path | None, until: float | None,
         quiet: bool, plots: bool, request: int | None = None, timeline: bool | None = None,
         force: bool = False) -> int:
    from simulator.commands.runner import run
    from models.scenario import load_scenario

    loaded = load_scenario(path)
    outdir = Path(out) if out is not None else Path("results") / loaded.model.name
    if not force:
        _refuse_foreign(outdir)
    result = run(loaded, seed=seed, out=outdir, until=until, progress=not quiet, plots=plots,
                 sequence=request, timeline=timeline)
    if request is not None and request > len(result.rows):
        print(f"warning: --request {request}: the run had {len(result.rows)} request(s); "
              f"no sequence diagram drawn", file=sys.stderr)
    if not quiet:
        print(_report(result.summary, outdir))
    return 0


def _refuse_foreign(out: str | Path | None, scenario: str | None = None, *, sweep: bool = False) -> None:
    """Refuse an out directory holding a file that no run (or, for a sweep, no sweep)
    wrote: one line naming the directory and that file. ``out`` None: the scenario's
    default, results/<name>/."""
    if out is None:
        from models.scenario import load_scenario

        out = Path("results") / load_scenario(scenario).model.name
    if sweep:
        d = Path(out)
        foreign = sorted(e.name for e in d.iterdir() if not _sweep_file(e.name)) if d.is_dir() else []
    else:
        from simulator.commands.results import foreign_files

        foreign = foreign_files(out)
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        whose = "sweep" if sweep else "run"
        raise ScenarioError(str(out), "--out", f"holds {foreign[0]!r}{more}, which no {whose} of this "
                            f"simulator wrote; give a new or empty directory, or --force to write there "
                            f"anyway (files no {whose} wrote are left alone)")


#: what a sweep writes in its out directory (simulator/commands/sweep.py, plots/sweep_plots.py)
_SWEEP_FILES = frozenset({"runs", "runs.csv", "points.csv", "sweep.json", "runs.parquet", "points.parquet",
                          "throughput.png", "phases.png", "utilisation.png"})


def _sweep_file(name: str) -> bool:
    if name.startswith(".") and name.endswith(".partial"):
        name = name[1:-len(".partial")]
    return name in _SWEEP_FILES or (name.startswith("metric-") and name.endswith(".png"))


def _report(s: dict, outdir: Path) -> str:
    by = s["requests"]["by_status"]
    lat = s["latency"]
    counts = ", ".join(f"{k} {v}" for k, v in by.items() if v)
    n = s['requests']['total']
    lines = [f"{s['scenario']['name']}: {n} request{'s' if n != 1 else ''} ({counts or 'none'}) "
             f"in {s['sim_time']:,.1f} simulated s, {s['wall_seconds']:.2f} s wall, "
             f"{s['events']:,} events"]
    if lat["count"]:
        lines.append(f"latency to VERIFY_RESIZE: mean {lat['mean']:.1f} s, p50 {lat['p50']:.1f}, "
                     f"p90 {lat['p90']:.1f}, p99 {lat['p99']:.1f}, max {lat['max']:.1f}")
    if s["requests"]["by_reason"]:
        lines.append("reasons: " + ", ".join(f"{k} {v}" for k, v in s["requests"]["by_reason"].items()))
    busiest = max(s["services"].items(), key=lambda kv: kv[1]["utilisation"])
    lines.append(f"busiest service: {busiest[0]} at {busiest[1]['utilisation']:.1%} utilisation, "
                 f"max queue {busiest[1]['max_queue']}")
    lines.append(f"results in {outdir}/")
    return "\n".join(lines)


def _sweep(args: argparse.Namespace) -> int:
    from simulator.commands.sweep import load_sweep, parse_vary, run_sweep

    if args.sweep_file is None and (args.base is None or not args.vary):
        raise ScenarioError("<command line>", "sweep", "give a sweep file, or --base SCENARIO and "
                            "at least one --vary KEY=V1,V2")
    sweep = load_sweep(args.sweep_file, base=args.base, vary=parse_vary(args.vary) or None,
                       replications=args.replications, metrics=args.metric or None,
                       mode="zip" if args.zip else None, seed=args.seed, warmup=args.warmup)
    name = sweep.base.get("name", "sweep")
    out = Path(args.out) if args.out else Path("results") / f"sweep-{name}"
    if not args.force:
        _refuse_foreign(out, sweep=True)
    n = len(sweep.points) * sweep.replications
    if not args.quiet:
        print(f"{len(sweep.points)} points × {sweep.replications} replications = {n} runs into {out}/")
    info = run_sweep(sweep, out, jobs=args.jobs, dask=args.dask, progress=not args.quiet)
    from plots.sweep_plots import plot_sweep

    paths = plot_sweep(out)
    if not args.quiet:
        print(f"ran {info['ran']}, skipped {info['skipped']} already done, failed {len(info['failed'])} "
              f"in {info['wall_seconds']:.1f} s; tables and {len(paths)} plot(s) in {out}/")
    for f in info["failed"]:
        print(f"failed: {f}", file=sys.stderr)
    return 1 if info["failed"] else 0


def _explain(path: str, request: int, seed: int | None) -> int:
    from simulator.commands.explain import explain_text
    from simulator.commands.runner import run
    from models.scenario import load_scenario

    loaded = load_scenario(path)
    result = run(loaded, seed=seed, explain=(request,))
    print(explain_text(result, request, [h.name for h in loaded.hosts], path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
