"""The checklist's steps: one entry each, and everything about a step is in its entry.

Its number and key, its names (title, the step bar's short name, the key's label), the short
help shown by ``?`` (why the step is there and what goes wrong when it is skipped), the test
that says it is done, and its actions in the command palette. The step bar, the key bindings,
the palette, the help panel, "Step 2 of 5" and where the app opens are all derived from this
table, so they can never disagree about what step 3 is called or when it is finished.

The screen of a step names its entry (``STEP = steps.RANKING``) and ``tui.app.SCREENS``
lists the screens in this order (docs/internals.md, "To add a step"). This module imports
nothing of the TUI: the state, the screens and the app all read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class Progress(Protocol):
    """What a step's done test may read: the records on disk, as ``tui.state.ProjectState``
    has them (so the step bar tells the same story as ``modelsnap ls`` and ``rank``)."""

    @property
    def locked(self) -> bool: ...

    @property
    def baseline(self) -> dict | None: ...

    @property
    def candidates(self) -> list[dict]: ...

    @property
    def decisions(self) -> list[dict]: ...

    def edge_result(self, snapshot: dict) -> dict | None: ...


class Command(NamedTuple):
    """A step's action in the command palette: go to the step, then run ``action`` there."""

    title: str
    help: str
    action: str


def _never(progress: Progress) -> bool:
    return False


@dataclass(frozen=True)
class Step:
    number: int  # 1..n in checklist order; 0 is the set-up screen shown before a project exists
    mode: str  # the App mode (and screen) name
    title: str
    short: str  # fits the step bar at 80 columns
    why: str
    without: str
    key_label: str = ""  # the go-to key's description (the key itself is the number)
    done: Callable[[Progress], bool] = _never
    commands: tuple[Command, ...] = ()

    @property
    def key(self) -> str:
        return str(self.number)


def _criteria_done(progress: Progress) -> bool:
    return progress.locked


def _baseline_done(progress: Progress) -> bool:
    return progress.baseline is not None


def _candidates_done(progress: Progress) -> bool:
    return bool(progress.candidates)


def _edge_cases_done(progress: Progress) -> bool:
    """Every candidate has an edge-case result (from a later run or its own snapshot)."""
    candidates = progress.candidates
    return bool(candidates) and all(progress.edge_result(s) is not None for s in candidates)


def _decision_done(progress: Progress) -> bool:
    return bool(progress.decisions)


SETUP = Step(
    0,
    "setup",
    "Set up the project",
    "Set-up",
    "Every later number is only comparable if all models see the same data file, the same "
    "target and the same frozen split. Set-up fixes those once and writes modelsnap.toml.",
    "Each model ends up trained on a slightly different file, target or split, and the "
    "comparison at the end measures the differences in set-up rather than in models.",
)

CRITERIA = Step(
    1,
    "criteria",
    "Criteria",
    "Criteria",
    "Decide what a good model means here (weights) and what is simply unacceptable "
    "(hard limits) before any model has a score. Locking records that choice with a date.",
    "The criteria get chosen after the results are in, usually to fit the favourite model: "
    "one metric wins by default and latency, size or fairness are noticed in production.",
    key_label="Criteria",
    done=_criteria_done,
    commands=(Command("Lock criteria", "Record the current criteria as a new revision", "lock"),),
)

BASELINE = Step(
    2,
    "baseline",
    "Baseline",
    "Baseline",
    "A simple model sets the floor. Every candidate is then reported as a gain over it, "
    "per extra millisecond and per extra megabyte.",
    "Without a floor there is no way to tell whether a large model's score is worth its "
    "cost; a complex model that barely beats logistic regression looks like a win.",
    key_label="Baseline",
    done=_baseline_done,
    commands=(Command("Run baseline", "Train and profile the baseline model", "run"),),
)

CANDIDATES = Step(
    3,
    "candidates",
    "Candidates",
    "Candidates",
    "Each candidate is trained and profiled the same way, in a separate process, and saved "
    "as a snapshot: metrics, latency, memory, size, constraint checks, explanations, fairness.",
    "Results live in notebooks and memory; the last model trained gets the attention and "
    "nobody can say later which settings produced which number.",
    key_label="Candidates",
    done=_candidates_done,
    commands=(
        Command("Run all candidates", "Train and profile every candidate in turn", "run_all"),
        Command("Add candidate", "Add a model to the project file", "add"),
    ),
)

EDGE_CASES = Step(
    4,
    "edge",
    "Edge cases",
    "Edge cases",
    "Averages hide the rare inputs that matter. A small file of hard rows with expected "
    "answers is run against every candidate and failures are recorded per case.",
    "A model with the best average score goes live and fails on the one kind of input the "
    "business cares about most.",
    key_label="Edge",
    done=_edge_cases_done,
    commands=(Command("Run edge cases", "Run the edge-case file against every candidate", "run"),),
)

RANKING = Step(
    5,
    "ranking",
    "Ranking & decision",
    "Decision",
    "Candidates that break a hard limit are set aside with reasons, the rest are ranked by "
    "the locked weights, and the choice is written to an append-only decision log.",
    "The decision is a chat message: no record of the weights, the alternatives or the "
    "caveats, so it cannot be explained or revisited when the model misbehaves.",
    key_label="Decide",
    done=_decision_done,
    commands=(
        Command(
            "Record decision",
            "Write the chosen model and rationale to the decision log",
            "decide",
        ),
        Command(
            "Save what-if weights",
            "Write the what-if weights to modelsnap.toml (lock them next)",
            "save_weights",
        ),
        Command(
            "Test significance",
            "Top pick vs runner-up and baseline on the test predictions",
            "significance",
        ),
        Command(
            "Try rows",
            "Every model's prediction for a row you pick or type; save it as an edge "
            "case (also: p in step 5)",
            "try_rows",
        ),
    ),
)

# The checklist, in order: numbers run 1..n (tests/tui/test_steps.py checks it).
STEPS: tuple[Step, ...] = (CRITERIA, BASELINE, CANDIDATES, EDGE_CASES, RANKING)

STEP_BY_MODE: dict[str, Step] = {step.mode: step for step in (SETUP, *STEPS)}


def step_for_number(number: int) -> Step:
    """The step with this number (1..n); raises ValueError for anything else."""
    for step in STEPS:
        if step.number == number:
            return step
    raise ValueError(f"no step {number}: steps are numbered 1 to {len(STEPS)}")


def count_in_words() -> str:
    """How many steps there are, as a word ("five"), for sentences on screen."""
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    return words[len(STEPS)] if len(STEPS) < len(words) else str(len(STEPS))


def progress(state: Progress) -> dict[int, bool]:
    """Step number -> finished, each step judged by its own test."""
    return {step.number: step.done(state) for step in STEPS}


def first_unfinished(state: Progress) -> int:
    """Where the app opens: the first step not done (the last one when all are)."""
    done = progress(state)
    return next((step.number for step in STEPS if not done[step.number]), STEPS[-1].number)
