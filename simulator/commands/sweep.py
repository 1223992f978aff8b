"""Parameter sweeps: one scenario, some of its values varied, each point replicated.

A sweep file (or the same from the command line) names a base scenario, the keys to
vary (paths into the scenario, as ``workload[0].arrival.rate``) with their values, the
replications, and the metrics (paths into a run's summary.json). Points are the grid
of the values (or, with ``mode: zip``, the values taken together).

Replication ``r`` runs with the seed ``SeedSequence(sweep seed).spawn(...)[r]`` at every
point: common random numbers across points, and adding replications never changes the
earlier ones. Each finished run is saved as ``runs/<point>-<replication>.json``, so a
sweep started again skips what is done and ends with the same tables. Runs go to local
processes (``jobs``) or a Dask cluster; the tables are the same either way.
"""
from __future__ import annotations

import copy
import csv
import hashlib
import io
import itertools
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from models.catalog import SERVICES
from models.exceptions import REASONS
from models.request import PHASES
from models.scenario import load_scenario
from models.states import REQUEST_STATUSES
from simulator.engine.errors import ScenarioError
from simulator.engine.fields import MAX_SECONDS, MAX_SEED
from simulator.engine.stats import summarise
from simulator.engine.validation import shown
from simulator.engine.yamlio import load_yaml

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _any(names: Iterable[str]) -> str:
    return "(" + "|".join(re.escape(n) for n in names) + ")"


#: metric paths a sweep may ask for (patterns over summary.json), from the names the
#: models declare: phases, services, statuses, reasons
STATISTICS = ("count", "mean", "p50", "p90", "p99", "max")
METRIC_PATTERNS = [
    rf"(latency|latency_all|confirm|queue_wait)\.{_any(STATISTICS)}",
    rf"phases\.{_any(PHASES)}\.{_any(STATISTICS)}",
    rf"services\.{_any(cls.service for cls in SERVICES.values())}\."
    r"(utilisation|mean_wait|max_wait|mean_queue|max_queue|handled|workers)",
    r"throughput\.(per_hour|offered_per_hour|configured_per_hour)",
    r"requests\.(total|measured|not_arrived|attempts|reschedules)",
    rf"requests\.by_status\.{_any(REQUEST_STATUSES)}",
    rf"requests\.by_reason\.{_any(REASONS)}",
    r"network\.(flows|gib_copied|recomputes)",
    r"(sim_time|events|trace_records)",
]


def parse_path(path: str) -> list[str | int]:
    """``workload[0].arrival.rate`` → ``['workload', 0, 'arrival', 'rate']``."""
    parts: list[str | int] = []
    pos = 0
    for m in _TOKEN.finditer(path):
        if m.start() != pos and path[pos:m.start()] != ".":
            raise ValueError(f"bad key path {path!r}")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if pos != len(path) or not parts or not isinstance(parts[0], str):
        raise ValueError(f"bad key path {path!r} (expected a path such as workload[0].arrival.rate)")
    return parts


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a value inside a scenario dict, creating the mappings on the way. A key of
    several paths separated by commas sets each of them to the value."""
    if "," in path:
        for one in path.split(","):
            set_path(data, one.strip(), value)
        return
    parts = parse_path(path)
    cur: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(part, int):
            if not isinstance(cur, list) or part >= len(cur):
                raise ValueError(f"{path}: there is no item [{part}] here "
                                 f"(the scenario has {len(cur) if isinstance(cur, list) else 0})")
            cur = cur[part]
        else:
            if not isinstance(cur, dict):
                raise ValueError(f"{path}: {part!r} is not inside a mapping")
            if part not in cur or cur[part] is None:
                cur[part] = [] if isinstance(nxt, int) else {}
            cur = cur[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(cur, list) or last >= len(cur):
            raise ValueError(f"{path}: there is no item [{last}] here")
        cur[last] = value
    else:
        if not isinstance(cur, dict):
            raise ValueError(f"{path}: {last!r} is not inside a mapping")
        cur[last] = value


def get_metric(summary: dict[str, Any], path: str) -> float | None:
    cur: Any = summary
    for part in parse_path(path):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, dict) and path.startswith("requests.by_reason."):
            return 0
        else:
            return None
    return cur if isinstance(cur, (int, float)) else None


@dataclass
class Sweep:
    """A resolved sweep: the base scenario, the points, the seeds, the metrics."""

    base: dict[str, Any]
    base_path: str
    vary: dict[str, list[Any]]
    replications: int
    metrics: list[str]
    mode: str = "grid"
    seed: int = 1
    warmup: float = 0.0
    source: str = "<sweep>"
    points: list[dict[str, Any]] = field(default_factory=list)

    def seeds(self) -> list[int]:
        """One seed per replication, derived from the sweep's seed."""
        children = np.random.SeedSequence(self.seed).spawn(self.replications)
        return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]

    def scenario_at(self, point: dict[str, Any]) -> dict[str, Any]:
        s = copy.deepcopy(self.base)
        for key, value in point.items():
            set_path(s, key, value)
        return s

    def describe(self) -> dict[str, Any]:
        return {"base": self.base_path, "vary": self.vary, "mode": self.mode,
                "replications": self.replications, "metrics": self.metrics, "seed": self.seed,
                "warmup": self.warmup, "points": self.points}


#: a sweep's bounds: replications of one point, and runs in all
MAX_REPLICATIONS = 10_000
MAX_RUNS = 1_000_000
SWEEP_KEYS = {"base", "replications", "vary", "metrics", "mode", "seed", "warmup"}


def load_sweep(path: str | None = None, *, base: str | None = None, vary: dict[str, list[Any]] | None = None,
               replications: int | None = None, metrics: list[str] | None = None, mode: str | None = None,
               seed: int | None = None, warmup: float | None = None) -> Sweep:
    """Load a sweep file and/or command-line settings, and check everything (every
    point's scenario against the schema, every metric path) before anything runs."""
    spec: dict[str, Any] = {}
    source = path or "<command line>"
    root = Path(path).resolve().parent if path else Path.cwd()
    if path:
        data, _ = load_yaml(path)
        if not isinstance(data, dict) or set(data) != {"sweep"} or not isinstance(data["sweep"], dict):
            raise ScenarioError(source, "", "expected one top-level key 'sweep' holding a mapping")
        spec = dict(data["sweep"])
        unknown = set(spec) - SWEEP_KEYS
        if unknown:
            raise ScenarioError(source, f"sweep.{sorted(unknown)[0]}",
                                f"unknown key; expected one of: {', '.join(sorted(SWEEP_KEYS))}")
    if base is not None:  # from the command line: relative to where the user is
        base = str(Path(base).resolve())
    for key, value in (("base", base), ("replications", replications), ("metrics", metrics),
                       ("mode", mode), ("seed", seed), ("warmup", warmup)):
        if value is not None:
            spec[key] = value
    if vary:
        spec["vary"] = {**(spec.get("vary") or {}), **vary}

    def fail(key: str, msg: str) -> None:
        raise ScenarioError(source, f"sweep.{key}", msg)

    if not isinstance(spec.get("base"), str):
        fail("base", "required: the path of the base scenario (relative to the sweep file)")
    base_path = spec["base"]
    full = Path(base_path) if Path(base_path).is_absolute() or not path else root / base_path
    if not full.exists():
        fail("base", f"scenario file {base_path!r} not found (looked for {full})")
    loaded_base = load_scenario(full)  # the base itself must be valid
    base_data, _ = load_yaml(full)
    if "name" not in base_data:
        base_data["name"] = loaded_base.model.name
    reps = spec.get("replications", 1)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        fail("replications", f"expected a whole number >= 1, got {reps!r}")
    if reps > MAX_REPLICATIONS:
        fail("replications", f"{reps:,} replications: at most {MAX_REPLICATIONS:,}, this simulator's bound")
    mode_v = spec.get("mode", "grid")
    if mode_v not in ("grid", "zip"):
        fail("mode", f"expected 'grid' or 'zip', got {mode_v!r}")
    seed_v = spec.get("seed", 1)
    if isinstance(seed_v, bool) or not isinstance(seed_v, int) or not 0 <= seed_v <= MAX_SEED:
        fail("seed", f"expected a whole number from 0 to {MAX_SEED}, got {shown(seed_v)}")
    warm = spec.get("warmup", 0)
    if isinstance(warm, bool) or not isinstance(warm, (int, float)) or not 0 <= warm <= MAX_SECONDS:
        fail("warmup", f"expected seconds from 0 to {MAX_SECONDS:g}, got {shown(warm)}")
    vary_v = spec.get("vary") or {}
    if not isinstance(vary_v, dict) or not vary_v:
        fail("vary", "expected a mapping of scenario key paths to lists of values")
    for key, values in vary_v.items():
        if not isinstance(key, str):
            fail("vary", f"{key!r} is not a key path (expected e.g. workload[0].arrival.rate)")
        if not isinstance(values, list) or not values:
            fail(f"vary.{key}", "expected a non-empty list of values")
        for one in key.split(","):
            try:
                first = parse_path(one.strip())[0]
            except ValueError as exc:
                fail(f"vary.{key}", str(exc))
            if first == "seed":
                fail(f"vary.{key}", "each replication sets the run's seed; vary the sweep's own 'seed' "
                     "between sweeps instead")
    metrics_v = spec.get("metrics", ["latency.mean", "latency.p90", "throughput.per_hour"])
    if not isinstance(metrics_v, list) or not metrics_v:
        fail("metrics", "expected a non-empty list of summary.json paths such as latency.p90")
    for i, m in enumerate(metrics_v):
        if not isinstance(m, str) or not any(re.fullmatch(p, m) for p in METRIC_PATTERNS):
            fail(f"metrics[{i}]", f"{m!r} is not a metric of summary.json (expected e.g. latency.p90, "
                 f"phases.disk_copy.mean, services.nova-scheduler.utilisation, throughput.per_hour)")
    keys = list(vary_v)
    points = len(next(iter(vary_v.values()))) if mode_v == "zip" else math.prod(len(v) for v in vary_v.values())
    if points * reps > MAX_RUNS:
        fail("vary", f"{points:,} points × {reps:,} replications: at most {MAX_RUNS:,} runs in one sweep, "
             f"this simulator's bound")
    if mode_v == "zip":
        lengths = {len(v) for v in vary_v.values()}
        if len(lengths) != 1:
            fail("vary", f"mode zip needs lists of one length, got {sorted(lengths)}")
        combos = list(zip(*vary_v.values()))
    else:
        combos = list(itertools.product(*vary_v.values()))
    sweep = Sweep(base_data, str(base_path), vary_v, reps, metrics_v, mode_v, seed_v, float(warm), source,
                  [dict(zip(keys, c)) for c in combos])
    for point in sweep.points:  # every point must be a valid scenario
        for key, value in point.items():
            try:
                set_path(copy.deepcopy(base_data), key, value)
            except ValueError as exc:
                fail(f"vary.{key}", str(exc))
        try:
            load_scenario(sweep.scenario_at(point))
        except ScenarioError as exc:
            varied = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise ScenarioError(source, f"sweep.vary ({varied})",
                                f"gives an invalid scenario: {exc.path}: {exc.message}") from None
    return sweep


def parse_vary(items: Iterable[str]) -> dict[str, list[Any]]:
    """``KEY=V1,V2`` strings from the command line; values read as YAML scalars."""
    import yaml

    out: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ScenarioError("<command line>", "--vary", f"expected KEY=V1,V2,..., got {item!r}")
        key, values = item.split("=", 1)
        try:
            out[key.strip()] = [yaml.safe_load(v) for v in values.split(",") if v.strip()]
        except yaml.YAMLError:
            raise ScenarioError("<command line>", f"--vary {key.strip()}",
                                f"cannot read the values {values!r}; expected plain values "
                                f"separated by commas, e.g. 0.1,0.2,0.4") from None
    return out


def run_key(scenario: dict[str, Any], seed: int, warmup: float, metrics: list[str]) -> str:
    """What makes a finished run reusable: its scenario, seed, warm-up and metrics."""
    return scenario_hash({"scenario": scenario, "seed": seed, "warmup": warmup, "metrics": metrics})


def scenario_hash(scenario: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(scenario, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_one(task: tuple[int, int, int, dict[str, Any], float, list[str]]) -> dict[str, Any]:
    """Run one replication of one point (in any process) and return its record."""
    from simulator.commands.runner import run

    point, rep, seed, scenario, warmup, metrics = task
    t0 = time.perf_counter()
    result = run(scenario, seed=seed, warmup=warmup)
    return {"point": point, "replication": rep, "seed": seed,
            "key": run_key(scenario, seed, warmup, metrics),
            "scenario_hash": scenario_hash(result.summary["scenario"]),
            "wall_seconds": round(time.perf_counter() - t0, 3),
            "metrics": {m: get_metric(result.summary, m) for m in metrics},
            "extra": {m: get_metric(result.summary, m) for m in PLOT_METRICS}}


#: what every run keeps for the sweep's standard plots
PLOT_METRICS = (["throughput.per_hour", "throughput.offered_per_hour"]
                + [f"phases.{p}.mean" for p in PHASES]
                + [f"services.{cls.service}.utilisation" for cls in SERVICES.values()])


def run_sweep(sweep: Sweep, out: str | Path, *, jobs: int = 1, dask: str | None = None,
              progress: bool = False, on_run: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run every (point, replication) not already done in ``out``, then write the tables."""
    out = Path(out)
    runs_dir = out / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(str(out), "--out", f"cannot write the sweep there ({exc.strerror or exc})") from None
    seeds = sweep.seeds()
    tasks = []
    done: dict[tuple[int, int], dict[str, Any]] = {}
    for p, point in enumerate(sweep.points):
        scenario = sweep.scenario_at(point)
        for r in range(sweep.replications):
            f = runs_dir / f"{p:04d}-{r:04d}.json"
            key = run_key(scenario, seeds[r], sweep.warmup, sweep.metrics)
            if f.exists():
                try:
                    rec = json.loads(f.read_text())
                except (OSError, json.JSONDecodeError):
                    rec = None
                if rec is not None and rec.get("key") == key:
                    done[(p, r)] = rec
                    continue  # the same run, finished before: skipped
                f.unlink(missing_ok=True)  # another sweep's run: run it again
            tasks.append((p, r, seeds[r], scenario, sweep.warmup, sweep.metrics))
    skipped = len(done)
    failed: list[str] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), unit="run", desc="sweep", disable=None, leave=False)

    def record(rec: dict[str, Any]) -> None:
        f = runs_dir / f"{rec['point']:04d}-{rec['replication']:04d}.json"
        tmp = f.with_suffix(".partial")
        tmp.write_text(json.dumps(rec, sort_keys=True))
        os.replace(tmp, f)
        done[(rec["point"], rec["replication"])] = rec
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"failed {len(failed)}", refresh=False)
        if on_run is not None:
            on_run(rec)

    t0 = time.perf_counter()
    if dask:
        _run_dask(tasks, dask, record, failed)
    elif jobs > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        pool = ProcessPoolExecutor(max_workers=jobs)
        try:
            futures = {pool.submit(run_one, t): t for t in tasks}
            for fut in as_completed(futures):
                try:
                    rec = fut.result()
                except Exception as exc:  # a run that fails is reported, the others go on
                    t = futures[fut]
                    failed.append(f"point {t[0]} replication {t[1]}: {exc}")
                else:
                    record(rec)
        except BaseException:  # Ctrl-C or SIGTERM: stop at once; a resumed sweep redoes the runs cut short
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            raise
        pool.shutdown()
    else:
        for t in tasks:
            try:
                rec = run_one(t)
            except Exception as exc:
                failed.append(f"point {t[0]} replication {t[1]}: {exc}")
            else:
                record(rec)
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - t0
    info = write_tables(sweep, out, done)
    info.update({"ran": len(tasks) - len(failed), "skipped": skipped, "failed": failed, "wall_seconds": wall})
    return info


def _run_dask(tasks: list, address: str, record: Callable[[dict[str, Any]], None], failed: list[str]) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ScenarioError("<command line>", "--dask", "Dask is not installed: pip install "
                            "'nova-resize-sim[dask]' (or dask[distributed])") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise ScenarioError("<command line>", "--dask", f"cannot reach a Dask scheduler at "
                                f"{address!r} ({exc}); expected an address such as tcp://host:8786, "
                                f"or 'local'") from None
    try:
        futures = client.map(run_one, tasks, pure=False)
        index = {f.key: t for f, t in zip(futures, tasks)}
        for fut in as_completed(futures):
            try:
                rec = fut.result()
            except Exception as exc:
                t = index[fut.key]
                failed.append(f"point {t[0]} replication {t[1]}: {exc}")
            else:
                record(rec)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(round(v, 9))
    return str(v)


def write_tables(sweep: Sweep, out: Path, done: dict[tuple[int, int], dict[str, Any]]) -> dict[str, Any]:
    """runs.csv, points.csv and sweep.json from the finished runs (in a fixed order)."""
    keys = list(sweep.vary)
    run_rows = []
    for (p, r) in sorted(done):
        rec = done[(p, r)]
        row = {"point": p, "replication": r, "seed": rec["seed"], **sweep.points[p]}
        row.update({m: rec["metrics"].get(m) for m in sweep.metrics})
        run_rows.append(row)
    point_rows = []
    for p, point in enumerate(sweep.points):
        row: dict[str, Any] = {"point": p, **point}
        recs = [done[(p, r)] for r in range(sweep.replications) if (p, r) in done]
        row["replications"] = len(recs)
        for m in sweep.metrics:
            st = summarise([rec["metrics"].get(m) for rec in recs])
            row.update({f"{m}.n": st["n"], f"{m}.mean": st["mean"], f"{m}.sd": st["sd"],
                        f"{m}.ci95_low": st["ci95_low"], f"{m}.ci95_high": st["ci95_high"]})
        point_rows.append(row)
    run_cols = ["point", "replication", "seed", *keys, *sweep.metrics]
    point_cols = ["point", *keys, "replications"] + [f"{m}.{s}" for m in sweep.metrics
                                                     for s in ("n", "mean", "sd", "ci95_low", "ci95_high")]
    _write_csv(out / "runs.csv", run_cols, run_rows)
    _write_csv(out / "points.csv", point_cols, point_rows)
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg = version("nova-resize-sim")
    except PackageNotFoundError:  # run from a checkout that is not installed
        import configparser

        cfg = configparser.ConfigParser()
        cfg.read(Path(__file__).resolve().parents[2] / "setup.cfg")
        pkg = cfg.get("metadata", "version", fallback="unknown")
    meta = {"sweep": sweep.describe(), "package_version": pkg,
            "runs": [{"point": p, "replication": r, "seed": done[(p, r)]["seed"],
                      "scenario_hash": done[(p, r)]["scenario_hash"],
                      "wall_seconds": done[(p, r)]["wall_seconds"]} for (p, r) in sorted(done)]}
    tmp = out / ".sweep.json.partial"
    tmp.write_text(json.dumps(meta, indent=2, default=str) + "\n")
    os.replace(tmp, out / "sweep.json")
    try:  # Parquet as well, when pyarrow is there
        import pyarrow  # noqa: F401
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        for name in ("runs", "points"):
            pq.write_table(pacsv.read_csv(out / f"{name}.csv"), out / f"{name}.parquet")
    except ImportError:
        pass
    return {"points": len(point_rows), "runs": len(run_rows)}


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in columns])
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(buf.getvalue())
    os.replace(tmp, path)
