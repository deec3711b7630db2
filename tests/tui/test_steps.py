"""The steps registry: one entry per step, and the app, palette and state derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelsnap.tui import steps
from modelsnap.tui.app import ModelsnapApp, step_screens
from modelsnap.tui.commands import ACTIONS


def test_steps_are_numbered_in_order_and_each_has_one_screen():
    assert [step.number for step in steps.STEPS] == list(range(1, len(steps.STEPS) + 1))
    assert [screen.STEP for screen in step_screens()] == list(steps.STEPS)
    assert set(ModelsnapApp.MODES) == {steps.SETUP.mode} | {s.mode for s in steps.STEPS}
    keys = {b.key: b.action for b in ModelsnapApp.BINDINGS if b.action.startswith("goto_step")}
    assert keys == {s.key: f"goto_step({s.number})" for s in steps.STEPS}


def test_the_palette_offers_each_step_and_each_of_its_commands():
    for step in steps.STEPS:
        go = (f"Step {step.number}: {step.title}", f"Go to step {step.number}", step.number, "")
        assert go in ACTIONS
        assert all((c.title, c.help, step.number, c.action) in ACTIONS for c in step.commands), (
            step.mode
        )


@dataclass
class Folder:
    """Just what the done tests read (steps.Progress)."""

    locked: bool = False
    baseline: dict | None = None
    candidates: list[dict] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    edge: dict[str, dict] = field(default_factory=dict)

    def edge_result(self, snapshot: dict) -> dict | None:
        return self.edge.get(snapshot["id"])


def test_each_step_is_done_by_its_own_test_and_the_app_opens_at_the_first_undone():
    folder = Folder()
    assert steps.progress(folder) == {1: False, 2: False, 3: False, 4: False, 5: False}
    assert steps.first_unfinished(folder) == 1
    folder.locked = True
    folder.baseline = {"id": "b"}
    folder.candidates = [{"id": "a"}, {"id": "c"}]
    folder.edge = {"a": {}}
    assert steps.first_unfinished(folder) == 4  # one candidate has no edge-case result yet
    folder.edge["c"] = {}
    folder.decisions = [{"id": "d1"}]
    assert all(steps.progress(folder).values())
    assert steps.first_unfinished(folder) == steps.STEPS[-1].number
