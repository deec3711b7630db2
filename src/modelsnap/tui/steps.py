"""The five checklist steps as the TUI names them, and the short help shown by ``?``.

One table, so the step bar, the key bindings, the command palette and the help panel can never
disagree about what step 3 is called or why it exists. The help text is ours: why the step is
there and what goes wrong when it is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    number: int  # 1..5; 0 is the set-up screen shown before a project exists
    mode: str  # the App mode (and screen) name
    title: str
    short: str  # fits the step bar at 80 columns
    why: str
    without: str


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

STEPS: tuple[Step, ...] = (
    Step(
        1,
        "criteria",
        "Criteria",
        "Criteria",
        "Decide what a good model means here (weights) and what is simply unacceptable "
        "(hard limits) before any model has a score. Locking records that choice with a date.",
        "The criteria get chosen after the results are in, usually to fit the favourite model: "
        "one metric wins by default and latency, size or fairness are noticed in production.",
    ),
    Step(
        2,
        "baseline",
        "Baseline",
        "Baseline",
        "A simple model sets the floor. Every candidate is then reported as a gain over it, "
        "per extra millisecond and per extra megabyte.",
        "Without a floor there is no way to tell whether a large model's score is worth its "
        "cost; a complex model that barely beats logistic regression looks like a win.",
    ),
    Step(
        3,
        "candidates",
        "Candidates",
        "Candidates",
        "Each candidate is trained and profiled the same way, in a separate process, and saved "
        "as a snapshot: metrics, latency, memory, size, constraint checks, explanations, fairness.",
        "Results live in notebooks and memory; the last model trained gets the attention and "
        "nobody can say later which settings produced which number.",
    ),
    Step(
        4,
        "edge",
        "Edge cases",
        "Edge cases",
        "Averages hide the rare inputs that matter. A small file of hard rows with expected "
        "answers is run against every candidate and failures are recorded per case.",
        "A model with the best average score goes live and fails on the one kind of input the "
        "business cares about most.",
    ),
    Step(
        5,
        "ranking",
        "Ranking & decision",
        "Decision",
        "Candidates that break a hard limit are set aside with reasons, the rest are ranked by "
        "the locked weights, and the choice is written to an append-only decision log.",
        "The decision is a chat message: no record of the weights, the alternatives or the "
        "caveats, so it cannot be explained or revisited when the model misbehaves.",
    ),
)

STEP_BY_MODE: dict[str, Step] = {step.mode: step for step in (SETUP, *STEPS)}


def step_for_number(number: int) -> Step:
    """The step with this number (1..5); raises ValueError for anything else."""
    for step in STEPS:
        if step.number == number:
            return step
    raise ValueError(f"no step {number}: steps are numbered 1 to 5")
