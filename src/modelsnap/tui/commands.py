"""The command palette (ctrl+p): the checklist's main actions, searchable by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from modelsnap.tui.project_app import ProjectApp
from modelsnap.tui.steps import STEPS

# (title, help, step number, screen action or "" to just go there): every step's "go there",
# then each step's own commands, in checklist order (tui.steps).
ACTIONS: tuple[tuple[str, str, int, str], ...] = (
    *((f"Step {s.number}: {s.title}", f"Go to step {s.number}", s.number, "") for s in STEPS),
    *((c.title, c.help, s.number, c.action) for s in STEPS for c in s.commands),
)


class ModelsnapCommands(Provider):
    """Offers step navigation and the main action of each step."""

    @property
    def project_app(self) -> ProjectApp:
        app = self.app
        assert isinstance(app, ProjectApp)
        return app

    def _available(self) -> bool:
        state = self.project_app.state
        return state is not None and state.has_project

    def _hits(self):
        app = self.project_app
        for title, help_text, number, action in ACTIONS:
            if action:
                callback = partial(app.action_screen_action, number, action)
            else:
                callback = partial(app.action_goto_step, number)
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
