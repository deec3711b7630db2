"""Save an SVG of each of the five steps (and set-up) into screenshots/.

Uses the fixed, generated project of the snapshot tests (benchmarks/make_snapshots.py, fixed
seed and timestamps), so the pictures change only when the UI does. Rerun after UI changes:

    python scripts/screenshots.py [--size 120x40] [--out screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "tui"))

from tui_fixtures import write_credit_csv, write_fixed_project  # noqa: E402

from modelsnap.tui.app import ModelsnapApp  # noqa: E402

STEPS = {
    "1": "step1-criteria",
    "2": "step2-baseline",
    "3": "step3-candidates",
    "4": "step4-edge-cases",
    "5": "step5-ranking-decision",
}


async def settle(app, pilot) -> None:
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)


async def shoot(root: Path, out: Path, size: tuple[int, int], keys: list[str], name: str) -> Path:
    app = ModelsnapApp(root)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
        path = out / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
    return path


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="120x40", help="WIDTHxHEIGHT (default 120x40)")
    parser.add_argument("--out", default=str(REPO / "screenshots"))
    args = parser.parse_args(argv)
    width, height = (int(part) for part in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        write_fixed_project(project)
        new = Path(tmp) / "new-project"
        new.mkdir()
        write_credit_csv(new / "credit.csv", rows=60)
        saved = [await shoot(new, out, (width, height), [], "step0-setup")]
        for key, name in STEPS.items():
            saved.append(await shoot(project, out, (width, height), [key], name))
        saved += await shoot_review(Path(tmp) / "review-project", out, (width, height))
    for path in saved:
        print(path)
    return 0


async def shoot_review(root: Path, out: Path, size: tuple[int, int]) -> list[Path]:
    """Review mode (``modelsnap review DIR``): the table with a detail, and a diff of two."""
    from modelsnap.tui.review_app import ReviewApp

    write_fixed_project(root, count=24)
    saved = []
    for name, keys in (
        ("review", ["down", "down"]),
        ("review-diff", ["down", "space", "down", "d"]),
    ):
        app = ReviewApp(root)
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            for key in keys:
                await pilot.press(key)
            await settle(app, pilot)
            await pilot.pause(0.2)  # the detail pane follows once the cursor rests
            app.save_screenshot(filename=f"{name}.svg", path=str(out))
        saved.append(out / f"{name}.svg")
    return saved


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
