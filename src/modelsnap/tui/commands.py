"""The command palette (ctrl+p): the checklist's main actions, searchable by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from modelsnap.tui.steps import STEPS

# (title, help, step number, screen action or "" to just go there)
ACTIONS: tuple[tuple[str, str, int, str], ...] = (
    *((f"Step {s.number}: {s.title}", f"Go to step {s.number}", s.number, "") for s in STEPS),
    ("Lock criteria", "Record the current criteria as a new revision", 1, "lock"),
    ("Run baseline", "Train and profile the baseline model", 2, "run"),
    ("Run all candidates", "Train and profile every candidate in turn", 3, "run_all"),
    ("Add candidate", "Add a model to the project file", 3, "add"),
    ("Run edge cases", "Run the edge-case file against every candidate", 4, "run"),
    ("Record decision", "Write the chosen model and rationale to the decision log", 5, "decide"),
    (
        "Save what-if weights",
        "Write the what-if weights to modelsnap.toml (lock them next)",
        5,
        "save_weights",
    ),
    (
        "Test significance",
        "Top pick vs runner-up and baseline on the test predictions",
        5,
        "significance",
    ),
    (
        "Try rows",
        "Every model's prediction for a row you pick or type; save it as an edge "
        "case (also: p in step 5)",
        5,
        "try_rows",
    ),
)


class ModelsnapCommands(Provider):
    """Offers step navigation and the main action of each step."""

    def _available(self) -> bool:
        state = getattr(self.app, "state", None)
        return state is not None and state.has_project

    def _hits(self):
        for title, help_text, number, action in ACTIONS:
            if action:
                callback = partial(self.app.action_screen_action, number, action)
            else:
                callback = partial(self.app.action_goto_step, number)
            yield title, help_text, callback
        yield (
            "Export to MLflow",
            "Send every snapshot (one run each) and decision to an MLflow tracking store",
            partial(self._mlflow, "export"),
        )
        yield (
            "Import runs from MLflow",
            "Evaluate the scikit-learn models of MLflow runs as candidates (trust pickle first)",
            partial(self._mlflow, "import"),
        )
        yield (
            "Show the last error in full",
            "The whole message of the last error on this screen (also: e)",
            self._show_error,
        )

    def _mlflow(self, mode: str) -> None:
        from modelsnap.tui.screens.mlflow_bridge import MlflowDialog

        self.app.push_screen(MlflowDialog(mode))

    def _show_error(self) -> None:
        self.app.call_after_refresh(self.app.screen.run_action, "show_error")

    async def discover(self) -> Hits:
        if not self._available():
            return
        for title, help_text, callback in self._hits():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        if not self._available():
            return
        matcher = self.matcher(query)
        for title, help_text, callback in self._hits():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
