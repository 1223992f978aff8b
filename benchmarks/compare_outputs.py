#!/usr/bin/env python3
"""Do two versions of the simulator give the same outputs? For changes that are not
meant to change results (a restructuring, a speed-up), this is the proof.

Each version (a git commit, or the working tree) runs, from its own checkout:

- every shipped scenario (``scenarios/**/*.yaml``, sweep files aside) with
  ``run --timeline``: trace.jsonl, requests.csv, scheduling.csv, flows.csv, the
  instance-action and operator-action tables, timeline.json, summary.json (minus ``wall_seconds``) and the plots;
- ``step --no-pause`` and ``explain`` of each teaching scenario's first request;
- every sweep file, with 2 replications: runs.csv and points.csv;
- the benchmark scenarios of ``benchmarks/bench_scale.py`` (with and without
  ``--faults``), at ``--hosts`` × ``--requests``.

Then every file is compared byte for byte and each difference is listed; the exit
status is 1 if anything differs. The scenario files of the newer version are the
inputs of both (a scenario added since the older version is run by both).

    python benchmarks/compare_outputs.py HEAD              # HEAD against the working tree
    python benchmarks/compare_outputs.py 2530915 HEAD --requests 10000
    python benchmarks/compare_outputs.py HEAD --cache /tmp/outputs   # reuse a commit's outputs

Not a test: it takes a few minutes (most of it the benchmark scenarios).
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKTREE = "WORKTREE"


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def checkout(rev: str, into: Path) -> Path:
    """The tree of ``rev`` in a new directory (the working tree itself for WORKTREE)."""
    if rev == WORKTREE:
        return ROOT
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def scenario_inputs(tree: Path, work: Path, hosts: int, requests: int) -> tuple[list[Path], list[Path], list[Path]]:
    """The scenarios, sweep files and teaching scenarios both versions run."""
    import yaml

    scenarios, sweeps = [], []
    for path in sorted((tree / "scenarios").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        (sweeps if isinstance(data, dict) and "sweep" in data else scenarios).append(path)
    sys.path.insert(0, str(tree))
    from benchmarks.bench_scale import scenario as scale_scenario

    bench = work / "bench"
    bench.mkdir(parents=True, exist_ok=True)
    for faults in (False, True):
        data = scale_scenario(hosts, requests, 5.0, faults)
        data["name"] += "-faults" if faults else ""
        path = bench / f"{data['name']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        scenarios.append(path)
    teaching = [p for p in scenarios if p.parent.name == "teaching"]
    return scenarios, sweeps, teaching


def label(path: Path, tree: Path) -> str:
    try:
        rel = path.relative_to(tree / "scenarios")
    except ValueError:
        rel = Path("bench") / path.name
    return str(rel.with_suffix("")).replace(os.sep, "__")


def run_version(code: Path, out: Path, scenarios: list[Path], sweeps: list[Path], teaching: list[Path],
                tree: Path, jobs: int) -> None:
    """Every output of one version of the code into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    commands: list[tuple[list[str], Path | None]] = []
    for s in scenarios:
        commands.append(([py, "run_sim.py", "run", str(s), "--out", str(out / label(s, tree)),
                          "--quiet", "--timeline"], None))
    for s in teaching:
        name = label(s, tree)
        commands.append(([py, "run_sim.py", "step", str(s), "--no-pause", "--out",
                          str(out / f"step-{name}")], out / f"step-{name}.txt"))
        commands.append(([py, "run_sim.py", "explain", str(s)], out / f"explain-{name}.txt"))
    for s in sweeps:
        commands.append(([py, "run_sim.py", "sweep", str(s), "--replications", "2", "--quiet",
                          "--out", str(out / f"sweep-{label(s, tree)}")], None))

    def one(cmd: tuple[list[str], Path | None]) -> None:
        argv, stdout = cmd
        done = subprocess.run(argv, cwd=code, capture_output=True, text=True)
        if stdout is not None:
            # the step's narration names its out directory: make it the same in both
            stdout.write_text(done.stdout.replace(str(out), "OUT") + done.stderr)
        if done.returncode != 0:
            (out / "failures.txt").open("a").write(f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr}\n")

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, commands))
    for summary in out.rglob("summary.json"):  # wall time is not a result
        data = json.loads(summary.read_text())
        data.pop("wall_seconds", None)
        summary.write_text(json.dumps(data, indent=2) + "\n")
    for sweep in out.glob("sweep-*"):  # keep the tables; the per-run records carry wall times
        shutil.rmtree(sweep / "runs", ignore_errors=True)
        (sweep / "sweep.json").unlink(missing_ok=True)


def compare(a: Path, b: Path) -> list[str]:
    """Every file that differs, or is in only one of the two trees."""
    problems = []
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    for f in sorted(files_a - files_b):
        problems.append(f"only in the old outputs: {f}")
    for f in sorted(files_b - files_a):
        problems.append(f"only in the new outputs: {f}")
    for f in sorted(files_a & files_b):
        if not filecmp.cmp(a / f, b / f, shallow=False):
            problems.append(f"differs: {f}")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old", help="a git revision")
    p.add_argument("new", nargs="?", default=WORKTREE, help="a git revision (default: the working tree)")
    p.add_argument("--hosts", type=int, default=1000, help="hosts of the benchmark scenarios")
    p.add_argument("--requests", type=int, default=2000, help="requests of the benchmark scenarios")
    p.add_argument("--jobs", type=int, default=2, help="runs at once")
    p.add_argument("--cache", type=Path, help="keep each commit's outputs here and reuse them")
    p.add_argument("--keep", type=Path, help="leave both versions' outputs here")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="compare-"))
    try:
        revs = [a.old, a.new]
        shas = [r if r == WORKTREE else git("rev-parse", r) for r in revs]
        trees = [checkout(sha, work / f"tree{i}") for i, sha in enumerate(shas)]
        scenarios, sweeps, teaching = scenario_inputs(trees[1], work, a.hosts, a.requests)
        outs = []
        for i, (rev, sha, code) in enumerate(zip(revs, shas, trees)):
            key = f"{sha}-{a.hosts}h-{a.requests}r"
            cached = a.cache / key if a.cache and sha != WORKTREE else None
            out = cached if cached is not None else work / f"out{i}"
            if cached is None or not (cached / "complete").exists():
                print(f"running {rev} ({sha[:12]}) ...", flush=True)
                run_version(code, out, scenarios, sweeps, teaching, trees[1], a.jobs)
                (out / "complete").write_text("")
            else:
                print(f"reusing {rev}'s outputs from {cached}")
            outs.append(out)
        for out, rev in zip(outs, revs):
            failures = out / "failures.txt"
            if failures.exists():
                print(f"{rev}: some runs failed:\n{failures.read_text()}")
        problems = compare(outs[0], outs[1])
        files = sum(1 for f in outs[1].rglob("*") if f.is_file())
        if a.keep:
            for out, name in zip(outs, ("old", "new")):
                shutil.copytree(out, a.keep / name, dirs_exist_ok=True)
        if problems:
            print(f"{len(problems)} difference(s) among {files} files:")
            print("\n".join(f"  {x}" for x in problems))
            return 1
        print(f"identical: {files} files from {len(scenarios)} scenarios, {len(teaching)} step and "
              f"explain narrations, {len(sweeps)} sweep(s)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
