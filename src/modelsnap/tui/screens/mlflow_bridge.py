"""The MLflow dialogs of the command palette: "Export to MLflow" and "Import runs from MLflow".

Both call the same core functions as ``modelsnap export mlflow`` and ``modelsnap import mlflow``
(``bridges.mlflow_export.export_mlflow``, ``bridges.mlflow_import.import_mlflow``) in a worker
thread, show their progress on one line and what was added, imported or skipped (each with its
reason) when they end. A bad tracking URI, an unknown run or experiment, MLflow missing: the
message is shown inline, nothing was written. Import loads models only with "trust pickle"
ticked, and then only in the profiler's worker process; Escape cancels a running import.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static

from modelsnap.core.text import printable

TRUST_TEXT = (
    "MLflow stores scikit-learn models with pickle or cloudpickle (or skops with its own "
    "allow-list): loading one can run any code its author put in it. Tick only for runs whose "
    "author you trust; models load only in modelsnap's isolated worker process."
)


class MlflowDialog(ModalScreen[None]):
    """``mode`` is "export" or "import"."""

    DEFAULT_CSS = """
    MlflowDialog { align: center middle; }
    #mlflow-panel { width: 76; max-width: 100%; height: auto; max-height: 100%;
                    border: round $accent; padding: 0 1; background: $surface; }
    #mlflow-panel Input { margin: 0; }
    #mlflow-trust-text { color: $text-muted; }
    #mlflow-status { height: auto; }
    #mlflow-output { height: auto; max-height: 10; }
    #mlflow-error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar = [
        Binding("escape", "close", "Cancel / close", id="mlflow-close"),
    ]

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.cancel: threading.Event | None = None

    def compose(self) -> ComposeResult:
        exporting = self.mode == "export"
        with Vertical(id="mlflow-panel"):
            yield Label(
                "Export snapshots and decisions to MLflow"
                if exporting
                else "Import the scikit-learn models of MLflow runs as candidates",
                id="mlflow-title",
            )
            yield Input(placeholder="tracking URI: sqlite:///path/mlflow.db", id="mlflow-uri")
            yield Input(
                placeholder="experiment (default: the project's name)"
                if exporting
                else "experiment (or run ids below)",
                id="mlflow-experiment",
            )
            if exporting:
                yield Checkbox("dry run: list what would be sent", id="mlflow-dry-run")
            else:
                yield Input(placeholder="run ids, separated by spaces", id="mlflow-runs")
                yield Input(placeholder="filter, e.g. metrics.f1 > 0.8", id="mlflow-filter")
                yield Checkbox("trust pickle", id="mlflow-trust")
                yield Static(TRUST_TEXT, id="mlflow-trust-text", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(
                    "Export" if exporting else "Import",
                    id="mlflow-start",
                    variant="primary",
                    compact=True,
                )
                yield Button("Close", id="mlflow-close-button", compact=True)
            yield Static("", id="mlflow-status", markup=False)
            yield Static("", id="mlflow-error", markup=False)
            with VerticalScroll(id="mlflow-output"):
                yield Static("", id="mlflow-lines", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#mlflow-uri", Input).focus()

    # -- actions ---------------------------------------------------------------------

    def action_close(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
            self._status("cancelling: the running model's worker is stopped")
            return
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "mlflow-close-button":
            self.action_close()
        elif event.button.id == "mlflow-start" and self.cancel is None:
            self.start()

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def start(self) -> None:
        options: dict[str, Any] = {"tracking_uri": self._value("mlflow-uri")}
        experiment = self._value("mlflow-experiment") or None
        if self.mode == "export":
            options.update(
                experiment=experiment,
                dry_run=self.query_one("#mlflow-dry-run", Checkbox).value,
            )
        else:
            options.update(
                run_ids=self._value("mlflow-runs").split(),
                experiment=experiment,
                filter_string=self._value("mlflow-filter") or None,
                trust_pickle=self.query_one("#mlflow-trust", Checkbox).value,
            )
        self.cancel = threading.Event()
        self.query_one("#mlflow-error", Static).update("")
        self.query_one("#mlflow-lines", Static).update("")
        self._status("connecting to the tracking store ...")
        self._run(options, self.cancel)

    # -- the worker thread -------------------------------------------------------------

    @work(thread=True, exclusive=True, group="mlflow", exit_on_error=False)
    def _run(self, options: dict[str, Any], cancel: threading.Event) -> None:
        from modelsnap.core.errors import ModelsnapError

        root = self.app.root  # type: ignore[attr-defined]
        say = self._from_thread
        try:
            if self.mode == "export":
                from modelsnap.bridges.mlflow_export import export_mlflow

                result = export_mlflow(
                    root,
                    options.pop("tracking_uri"),
                    on_progress=lambda stage, fraction, text: say(
                        self._status, f"sending {fraction:.0%}: {text}"
                    ),
                    **options,
                )
            else:
                from modelsnap.bridges.mlflow_import import import_mlflow

                result = import_mlflow(
                    root,
                    options.pop("tracking_uri"),
                    cancel=cancel,
                    on_start=lambda name, kind: say(self._status, f"{name}: starting"),
                    on_event=lambda name, event: say(
                        self._status,
                        f"{name}: {event.stage} {event.fraction:.0%} {event.message}".strip(),
                    ),
                    **options,
                )
        except ModelsnapError as error:
            say(self._finish, None, str(error))
            return
        say(self._finish, result, "")

    def _from_thread(self, fn: Any, *args: Any) -> None:
        import contextlib

        with contextlib.suppress(RuntimeError):  # the app may be closing
            self.app.call_from_thread(fn, *args)

    # -- the UI thread -----------------------------------------------------------------

    def _status(self, text: str) -> None:
        self.query_one("#mlflow-status", Static).update(printable(text)[:200])

    def _finish(self, result: dict[str, Any] | None, error: str) -> None:
        self.cancel = None
        if result is None:
            self._status("nothing was written")
            self.query_one("#mlflow-error", Static).update(printable(error, newlines=True))
            return
        self.query_one("#mlflow-lines", Static).update(
            printable("\n".join(summary_lines(self.mode, result)), newlines=True)
        )
        if self.mode == "import":
            self._status(f"imported {len(result['imported'])}, skipped {len(result['skipped'])}")
            self.app.reload_state()  # type: ignore[attr-defined]
        else:
            verb = "would add" if result["dry_run"] else "added"
            self._status(
                f"{verb} {len(result['added'])} run(s) and {len(result['decisions_added'])} "
                f"decision(s), skipped {len(result['skipped']) + len(result['decisions_skipped'])}"
            )


def summary_lines(mode: str, result: dict[str, Any]) -> list[str]:
    """One line per run or decision sent, imported or skipped (with the reason)."""
    lines = []
    if mode == "import":
        for row in result["imported"]:
            lines.append(f"imported: {row['name']} -> {row['snapshot_id']}")
        for row in result["skipped"]:
            lines.append(f"skipped: run {row['run_id']}: {row['reason']}")
        return lines
    verb = "would add" if result["dry_run"] else "added"
    for row in result["added"]:
        lines.append(f"{verb}: {row['snapshot_id']}")
    for row in result["decisions_added"]:
        lines.append(f"{verb}: decision {row['decision_id']}")
    for row in result["skipped"]:
        lines.append(f"skipped: {row['snapshot_id']} ({row['reason']})")
    for row in result["decisions_skipped"]:
        lines.append(f"skipped: decision {row['decision_id']} ({row['reason']})")
    return lines
