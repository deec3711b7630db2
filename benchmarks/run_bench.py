"""What a run costs around the models' own work: cold workers against warm workers, in one run.

For the sample project's five models (the logistic baseline and four candidates, one with a
grid search), each in a fresh copy of ``sample_project/`` and a fresh process:

1. the run path in-process (``profiler.jobs.run_project``, what ``modelsnap run`` calls), with
   the profiler's own stage events timed as they arrive: per model the worker start (run start
   to the first ``load`` event), each stage, save (the ``save`` event to the recorded snapshot,
   parent side included) and the total; **overhead = total - (search + fit + evaluate + analyse
   + latency + batch)**, i.e. everything that is not the model's own work (the issue's formula,
   with the grid search counted as work);
2. ``modelsnap run DIR`` wall time, from process start to exit.

Both with cold workers (``MODELSNAP_COLD_WORKERS=1``: a fresh interpreter importing
scikit-learn, pandas and skops per model, the path before warm workers) and warm ones (one
template per run, a fork per model), alternated ``--repeat`` times so a busy machine slows both
alike. Absolute times drift on a shared machine: compare within one run.

    python benchmarks/run_bench.py [--repeat 1] [--only stages|cli]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_project"
WORK = ("search", "fit", "evaluate", "analyse", "latency", "batch")
SHOWN = ("start", "load", "split", *WORK, "save")
MODES = ("cold", "warm")


def child(folder: str) -> None:
    """One run of every model of the copy at ``folder``; prints the stage timings as JSON."""
    from modelsnap.core.project.parse import load_project
    from modelsnap.profiler.jobs import run_project

    config = load_project(Path(folder))
    marks: dict[str, list[tuple[str, float]]] = {}
    ends: dict[str, float] = {}
    reasons: dict[str, str] = {}
    memory: dict[str, list[float]] = {}

    def on_start(name: str, kind: str) -> None:
        marks[name] = [("start", time.perf_counter())]

    saves: dict[str, dict[float, float]] = {}

    def on_event(name: str, event) -> None:
        if event.stage not in (stage for stage, _ in marks[name]):
            marks[name].append((event.stage, time.perf_counter()))
        if event.stage == "save":
            saves.setdefault(name, {})[event.fraction] = time.perf_counter()

    def on_finish(outcome) -> None:
        ends[outcome.name] = time.perf_counter()
        reasons[outcome.name] = outcome.reason
        resources = (outcome.snapshot or {}).get("resources", {})
        memory[outcome.name] = [
            resources.get("peak_memory_fit_mb", float("nan")),
            resources.get("peak_memory_predict_mb", float("nan")),
        ]

    started = time.perf_counter()
    run_project(config, on_start=on_start, on_event=on_event, on_finish=on_finish)
    wall = time.perf_counter() - started
    models = {}
    for name, marked in marks.items():
        seen = [*marked, ("end", ends[name])]
        stages = {seen[i][0]: seen[i + 1][1] - seen[i][1] for i in range(len(seen) - 1)}
        total = ends[name] - seen[0][1]
        work = sum(stages.get(stage, 0.0) for stage in WORK)
        at = saves.get(name, {})
        parts = [(0.0, 0.5, "artifact"), (0.5, 0.8, "predictions"), (0.8, 1.0, "environment")]
        save_parts = {label: at[b] - at[a] for a, b, label in parts if a in at and b in at}
        if 1.0 in at:
            save_parts["hand-over + record"] = ends[name] - at[1.0]
        models[name] = {
            "save_parts": save_parts,
            "stages": stages,
            "total": total,
            "work": work,
            "overhead": total - work,
            "reason": reasons[name],
            "memory": memory[name],
        }
    print(json.dumps({"wall": wall, "models": models}))


def fresh_copy(parent: Path, label: str) -> Path:
    target = parent / label
    shutil.copytree(SAMPLE, target)
    return target


def env_for(mode: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env.pop("MODELSNAP_COLD_WORKERS", None)
    if mode == "cold":
        env["MODELSNAP_COLD_WORKERS"] = "1"
    return env


def stage_run(parent: Path, mode: str, label: str) -> dict:
    folder = fresh_copy(parent, label)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(folder)],
        capture_output=True,
        text=True,
        env=env_for(mode),
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"{mode} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cli_run(parent: Path, mode: str, label: str) -> float:
    folder = fresh_copy(parent, label)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "modelsnap", "run", str(folder), "--format", "json"],
        capture_output=True,
        text=True,
        env=env_for(mode),
        check=False,
    )
    wall = time.perf_counter() - started
    runs = json.loads(proc.stdout)["runs"] if proc.stdout.strip() else []
    if not runs or not all(run["ok"] or run["reason"] for run in runs):
        sys.exit(f"modelsnap run ({mode}) failed:\n{proc.stderr[-3000:]}")
    return wall


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sklearn

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python "
        f"{platform.python_version()}, scikit-learn {sklearn.__version__}; load average {load}"
    )


def print_stages(results: dict[str, list[dict]]) -> None:
    names = list(results["cold"][0]["models"])
    for mode in MODES:
        runs = results[mode]
        print(f"\n{mode} workers: median of {len(runs)} run(s), seconds")
        print(
            f"{'model':<18}" + "".join(f"{s:>9}" for s in SHOWN) + f"{'total':>9}{'overhead':>10}"
        )
        for name in names:

            def med(pick, name=name, runs=runs) -> float:
                return statistics.median(pick(run["models"][name]) for run in runs)

            cells = "".join(f"{med(lambda m, s=s: m['stages'].get(s, 0.0)):>9.3f}" for s in SHOWN)
            print(
                f"{name:<18}{cells}{med(lambda m: m['total']):>9.3f}"
                f"{med(lambda m: m['overhead']):>10.3f}"
            )
        parts = list(runs[0]["models"][names[0]].get("save_parts", {}))
        if parts:
            print("  save, in parts: " + ", ".join(parts))
            for name in names:
                cells = ", ".join(
                    f"{statistics.median(r['models'][name]['save_parts'].get(p, 0.0) for r in runs):.3f}"  # noqa: E501
                    for p in parts
                )
                print(f"  {name:<18}{cells}")
        print("  peak memory recorded (fit MB, predict MB), first run:")
        for name in names:
            fit_mb, predict_mb = runs[0]["models"][name]["memory"]
            print(f"  {name:<18}{fit_mb:.1f}, {predict_mb:.1f}")
        overheads = [statistics.median(r["models"][n]["overhead"] for r in runs) for n in names]
        print(
            f"overhead per model: mean {statistics.mean(overheads):.3f} s, "
            f"first model {overheads[0]:.3f} s, the others mean "
            f"{statistics.mean(overheads[1:]):.3f} s (max {max(overheads[1:]):.3f} s); "
            f"in-process run of all five {statistics.median(r['wall'] for r in runs):.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=("stages", "cli"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="modelsnap-run-bench-") as tmp:
        parent = Path(tmp)
        results: dict[str, list[dict]] = {mode: [] for mode in MODES}
        walls: dict[str, list[float]] = {mode: [] for mode in MODES}
        for round_ in range(args.repeat):
            for mode in MODES:
                if args.only != "cli":
                    results[mode].append(stage_run(parent, mode, f"{mode}-stages-{round_}"))
                if args.only != "stages":
                    walls[mode].append(cli_run(parent, mode, f"{mode}-cli-{round_}"))
        if args.only != "cli":
            print_stages(results)
        if args.only != "stages":
            print(
                "\n`modelsnap run sample_project` (five models), wall seconds from process start:"
            )
            for mode in MODES:
                values = ", ".join(f"{w:.2f}" for w in walls[mode])
                print(f"  {mode:<5} median {statistics.median(walls[mode]):.2f}  ({values})")
            ratio = statistics.median(walls["warm"]) / statistics.median(walls["cold"])
            print(f"  warm / cold: {ratio:.2f}")
        print(f"\nload average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
