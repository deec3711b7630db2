"""Reading the records themselves: ``check`` and ``decide`` parse every snapshot file (they
trust no cache), so their time at 10,000 snapshots is mostly TOML. modelsnap reads TOML with
tomli's compiled build; the peer, measured in the same run, is Python's own ``tomllib`` (the
same parser, pure Python), swapped in for the same commands.

    python benchmarks/records_bench.py [--count 10000] [--repeat 3]

1. parses every snapshot file of ``benchmarks/.cache/scale-<count>/`` (made by
   ``scale_bench.py``) with each parser, in this process: milliseconds per file;
2. times fresh processes, interleaved, from spawn to exit: ``modelsnap check DIR`` and
   ``modelsnap decide DIR <id> --rationale ...`` on a copy of the folder in a temporary
   directory (the benchmark folder holds no model files, so ``decide`` reads and ranks every
   record, then refuses the snapshot because its files do not verify: nothing is written),
   each with tomli as shipped and with tomllib in its place;
3. prints the medians, each process's peak resident memory, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import scale_bench  # noqa: E402

# The command with the standard library's parser in tomli's place (same API: loads and
# TOMLDecodeError), everything else as shipped.
WITH_TOMLLIB = """
import sys, tomllib
import modelsnap.core.files as files
files.tomli = tomllib
from modelsnap.cli import main
sys.argv = ["modelsnap", *sys.argv[1:]]
sys.exit(main())
"""
RATIONALE = "Best f1 within the latency limit on the validation split, small enough to serve."


def per_file(folder: Path) -> dict[str, float]:
    import tomli

    texts = [path.read_text("utf-8") for path in sorted((folder / "snapshots").glob("*.toml"))]
    figures = {}
    for name, loads in (("tomllib", tomllib.loads), ("tomli", tomli.loads)) * 2:
        start = time.perf_counter()
        for text in texts:
            loads(text)
        figures[name] = (time.perf_counter() - start) / len(texts) * 1000  # the second round
    print(
        f"parsing {len(texts)} snapshot files ({sum(map(len, texts)) / len(texts):.0f} bytes "
        f"each on average): tomli {figures['tomli']:.3f} ms per file, tomllib "
        f"{figures['tomllib']:.3f} ms ({figures['tomllib'] / figures['tomli']:.2f}x)"
    )
    return figures


def wall(command: list[str]) -> tuple[float, float]:
    """Seconds from spawning ``command`` to its exit, and its peak resident memory in MB
    (``wait4``'s ``ru_maxrss``, the child's own)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return seconds, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in scale_bench.machine().items()))
    source = scale_bench.ensure_folder(args.count, False)
    per_file(source)
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "project"
        shutil.copytree(source, folder, symlinks=True)
        newest = sorted((folder / "snapshots").glob("*.toml"))[-1].stem
        commands = {
            "check": ["check", str(folder)],
            "decide": ["decide", str(folder), newest, "--rationale", RATIONALE],
        }
        for label, tail in commands.items():
            ours = [python, "-m", "modelsnap", *tail]
            peer = [python, "-c", WITH_TOMLLIB, *tail]
            wall(ours)  # the file cache, once
            samples: dict[str, list[float]] = {"tomli": [], "tomllib": []}
            peaks: dict[str, list[float]] = {"tomli": [], "tomllib": []}
            for _ in range(args.repeat):
                for name, command in (("tomli", ours), ("tomllib", peer)):
                    seconds, peak = wall(command)
                    samples[name].append(seconds)
                    peaks[name].append(peak)
            mine, theirs = (statistics.median(samples[k]) for k in ("tomli", "tomllib"))
            print(
                f"modelsnap {label} ({args.count:,} snapshots, {args.repeat} interleaved runs): "
                f"{mine:.2f} s (min {min(samples['tomli']):.2f}), peak "
                f"{statistics.median(peaks['tomli']):.0f} MB; with tomllib {theirs:.2f} s "
                f"(min {min(samples['tomllib']):.2f}), peak "
                f"{statistics.median(peaks['tomllib']):.0f} MB; ratio {theirs / mine:.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
