"""Crash benchmark: SIGKILL modelsnap's writers many times, then prove the folder is whole.

Same machinery as tests/reliability/test_crash.py (``tests/reliability/killer.py``), with many
more kills: ``modelsnap decide``, a process writing snapshots in a loop
(``store.write_snapshot``, the last step of every run) and ``modelsnap run``. After every kill
the snapshots must list without problems and match their files' hashes, the decision chain
must verify and no temp file may sit outside ``.modelsnap/tmp``. At the end ``ls`` and
``check`` run on the folder and the leftovers of killed processes are counted.

    python benchmarks/crash_bench.py [--decide 600] [--writer 300] [--run 40] [--seed 1]

Prints one line per command (kills, runs that finished first, records reported written and
found) and the leftovers ``check`` reported. Exit code 1 if any invariant broke.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from modelsnap.core.files import clean_stale_tmp  # noqa: E402
from modelsnap.core.records.decision_log import read_decisions  # noqa: E402
from modelsnap.core.records.store import list_snapshots  # noqa: E402
from reliability.conftest import assert_folder_sound, cli, snapshot_id_of, write_project  # noqa: E402
from reliability.killer import kill_decide, kill_run, kill_snapshot_writer  # noqa: E402
from reliability.test_crash import records_whole  # noqa: E402


def build_project(root: Path) -> None:
    write_project(root)
    for args in (
        ("run", str(root), "--baseline"),
        ("lock", str(root)),
        ("run", str(root), "--candidate", "tree"),
    ):
        proc = cli(*args)
        if proc.returncode != 0:
            raise SystemExit(f"setting up the project failed: {proc.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decide", type=int, default=600, help="kills of 'modelsnap decide'")
    parser.add_argument("--writer", type=int, default=300, help="kills of a snapshot writer")
    parser.add_argument("--run", type=int, default=40, help="kills of 'modelsnap run'")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="crash-bench-") as scratch:
        root = Path(scratch) / "proj"
        build_project(root)
        tree = snapshot_id_of(root, "tree")
        started = time.monotonic()
        results = []
        for label, kills, action in (
            ("decide", args.decide, lambda n: kill_decide(root, tree, n, rng, records_whole)),
            (
                "write_snapshot",
                args.writer,
                lambda n: kill_snapshot_writer(root, tree, n, rng, records_whole),
            ),
            ("run", args.run, lambda n: kill_run(root, "tree", n, rng, records_whole)),
        ):
            if kills <= 0:
                continue
            before = time.monotonic()
            stats = action(kills)
            results.append((label, stats, time.monotonic() - before))
        report = assert_folder_sound(root)
        leftovers = Counter(f["kind"] for f in report["findings"])
        unexpected = set(leftovers) - {"temp", "orphan"}
        removed = clean_stale_tmp(root)
        entries = read_decisions(root)
        snapshots, problems = list_snapshots(root)
        decided = next((s for label, s, _ in results if label == "decide"), None)
        written = next((s for label, s, _ in results if label == "write_snapshot"), None)
        lost_decisions = set(decided.reported) - {e["id"] for e in entries} if decided else set()
        lost_snapshots = set(written.reported) - {s["id"] for s in snapshots} if written else set()

        print(f"crash benchmark, seed {args.seed}, {time.monotonic() - started:.0f} s")
        print(f"{'command':<16}{'kills':>7}{'finished':>10}{'median run s':>14}{'wall s':>8}")
        for label, stats, wall in results:
            median = sorted(stats.durations)[len(stats.durations) // 2]
            print(f"{label:<16}{stats.kills:>7}{stats.finished:>10}{median:>14.2f}{wall:>8.0f}")
        total = sum(stats.kills for _, stats, _ in results)
        print(f"kills survived: {total} (records whole after every kill)")
        print(
            f"decisions in the log: {len(entries)}, chain verifies; reported but missing: "
            f"{len(lost_decisions)}"
        )
        print(
            f"snapshots: {len(snapshots)}, broken: {len(problems)}; reported but missing: "
            f"{len(lost_snapshots)}"
        )
        print(
            f"check after the kills: {json.dumps(dict(leftovers))} "
            f"(temp = stale staging in .modelsnap/tmp, orphan = artifact without snapshot); "
            f"stale temp entries cleaned: {removed}"
        )
        if unexpected or lost_decisions or lost_snapshots or problems:
            print(f"FAILED: unexpected findings {sorted(unexpected)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
