"""Step 4: edge cases. The set, a run over every snapshot, a case-by-model matrix.

The run is ``modelsnap edge``'s job (``api.edge.run_edge_cases``): it loads each stored
artifact and writes one ``edge_runs/`` record; snapshots are never rewritten. The matrix marks
every failure with ✗ and the prediction, so a failing must-pass case cannot hide in an average.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, ProgressBar, Static

from modelsnap.tui.messages import EdgeCasesRun, RunProgress
from modelsnap.tui.screens.base import StepScreen
from modelsnap.tui.state import ProjectState
from modelsnap.tui.steps import EDGE_CASES
from modelsnap.tui.widgets.formatting import printable, safe_text


def case_matrix(
    cases: list[dict], results: dict[str, dict]
) -> tuple[list[str], list[tuple[str, str, list[tuple[bool, str]]]]]:
    """(model names, rows of (case, severity, [(passed, text) per model])).

    ``cases`` are the run's cases (case, expected, severity); a case missing from them but
    failing somewhere is still shown. A model whose artifact could not be loaded shows '?'.
    """
    names = list(results)
    order = [c.get("case", "") for c in cases]
    severity = {c.get("case", ""): c.get("severity", "normal") for c in cases}
    for result in results.values():
        for failure in result.get("failures", []) or []:
            if failure.get("case") not in severity:
                order.append(failure.get("case", ""))
                severity[failure.get("case", "")] = failure.get("severity", "normal")
    rows = []
    for case in order:
        cells = []
        for name in names:
            result = results[name]
            if "error" in result:
                cells.append((False, "? not run"))
                continue
            failure = next(
                (f for f in result.get("failures", []) or [] if f.get("case") == case), None
            )
            if failure is None:
                cells.append((True, "✓"))
            else:
                cells.append((False, f"✗ {failure.get('predicted', '')}"))
        rows.append((case, severity[case], cells))
    return names, rows


class EdgeCasesScreen(StepScreen):
    STEP = EDGE_CASES
    BINDINGS: ClassVar = [Binding("r", "run", "Run", id="edge-run", tooltip="Run the edge cases")]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="edge-file", markup=False)
        yield Button(
            "Run edge cases on every snapshot",
            id="edge-run-button",
            variant="primary",
            compact=True,
        )
        yield ProgressBar(total=100, show_eta=False, id="edge-progress")
        yield DataTable(id="edge-matrix", cursor_type="cell", zebra_stripes=True)
        with Horizontal(id="edge-columns"):
            with Vertical(id="edge-left"):
                yield Static("", id="edge-status", markup=False)
            yield Static("", id="edge-detail", markup=False)

    def __init__(self) -> None:
        super().__init__()
        self._cases: list[tuple[str, str, list[tuple[bool, str]]]] = []  # the matrix rows
        self._names: list[str] = []
        self._expected: dict[str, str] = {}

    def on_mount(self) -> None:
        self.query_one("#edge-progress", ProgressBar).display = False
        self.query_one("#edge-detail", Static).display = False

    def case_detail(self, index: int) -> Text:
        """The detail of one case: what it expects, and what every model answered."""
        case, severity, cells = self._cases[index]
        text = Text()
        text.append(case + "\n", style="bold")
        text.append(f"severity {severity} · expected {self._expected.get(case, '?')}\n")
        for name, (ok, cell) in zip(self._names, cells, strict=True):
            mark = (
                "✓ passed"
                if ok
                else ("? not run" if cell.startswith("?") else f"✗ predicted {cell[2:]}")
            )
            text.append(f"{name}: ", style="dim")
            text.append(mark + "\n", style="" if ok else "bold")
        if severity == "must-pass":
            text.append("a model failing a must-pass case is rejected", style="dim")
        return text

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        if event.data_table.id == "edge-matrix" and 0 <= event.coordinate.row < len(self._cases):
            self.query_one("#edge-detail", Static).update(self.case_detail(event.coordinate.row))

    def refresh_body(self, state: ProjectState) -> None:
        file_label = self.query_one("#edge-file", Static)
        if state.edge_file:
            file_label.update(
                f"Edge-case file: {printable(state.edge_file)} (rows with the answer a model "
                "must give; severity must-pass rejects a model that fails it)"
            )
        else:
            file_label.update(
                "! no edge-case file set: add one under Data settings in step 1 "
                "(a CSV with the feature columns, the target, and optionally "
                "case and severity columns)"
            )
        self._show_matrix(state)

    def _show_matrix(self, state: ProjectState) -> None:
        table = self.query_one("#edge-matrix", DataTable)
        table.clear(columns=True)
        by_id = {s.get("id"): s for s in state.snapshots}
        results: dict[str, dict] = {}
        # One column per model: its newest snapshot with a result (ids sort by time), so a
        # project with many versions still gives a matrix one can read.
        for snapshot in sorted(state.snapshots, key=lambda s: s.get("id", "")):
            result = state.edge_result(snapshot)
            if result is not None:
                results[str(snapshot.get("name"))] = result
        status = self.query_one("#edge-status", Static)
        if not results:
            status.update(
                "No edge-case results yet."
                if by_id
                else "No snapshots yet: run the baseline and candidates first."
            )
            return
        names, rows = case_matrix(state.edge_cases, results)
        self._names, self._cases = names, rows
        summary = []
        for name in names:
            result = results[name]
            if "error" in result:
                summary.append(f"{name}: not run ({result['error']})")
            else:
                summary.append(
                    f"{name}: {result.get('n_passed', 0)} of {result.get('n_cases', 0)} passed"
                    + (
                        f", {result['must_pass_failed']} must-pass failed"
                        if result.get("must_pass_failed")
                        else ""
                    )
                )
        status.update(printable("\n".join(summary), newlines=True))
        case_width = min(26, max([4] + [len(case) for case, _severity, _cells in rows]))
        table.add_column("case", key="case", width=case_width)
        table.add_column("severity", key="severity", width=9)
        expected = {c.get("case", ""): str(c.get("expected", "")) for c in state.edge_cases}
        for result in results.values():
            for failure in result.get("failures", []) or []:
                expected.setdefault(failure.get("case", ""), str(failure.get("expected", "")))
        table.add_column(
            "expected", key="expected", width=max([8] + [len(v[:16]) for v in expected.values()])
        )
        for index, name in enumerate(names):
            # Narrow model columns so the whole matrix fits 120 columns; the detail pane
            # names every model in full.
            header = name if len(name) <= 12 else name[:11] + "…"
            cell_width = max([len(header)] + [len(row[2][index][1]) for row in rows])
            table.add_column(printable(header), key=f"model-{name}", width=cell_width)
        for case, severity, cells in rows:
            rendered = [
                safe_text(Text(text, style="" if ok else "bold red reverse")) for ok, text in cells
            ]
            table.add_row(
                printable(case[:26]),
                printable(severity),
                printable(expected.get(case, "")[:16]),
                *rendered,
            )
        self._expected = expected
        detail = self.query_one("#edge-detail", Static)
        detail.display = bool(rows)
        if rows:
            detail.update(self.case_detail(min(table.cursor_row, len(rows) - 1)))

    def action_run(self) -> None:
        state = self.state
        if state is None or not state.edge_file:
            self.notify("set an edge-case file in step 1 first", severity="warning")
            return
        if not state.snapshots:
            self.notify("no snapshots to test yet", severity="warning")
            return
        from modelsnap.api.edge import run_edge_cases

        bar = self.query_one("#edge-progress", ProgressBar)
        bar.display = True
        bar.update(progress=0)
        self._total = len(state.snapshots)
        self.query_one("#edge-status", Static).update(
            f"0 of {self._total} models · loading the first model and running the cases ..."
        )

        def progress(fraction: float, message: str) -> None:
            self.post_message(RunProgress("edge", "edge", fraction, message))

        self.app.run_task(self, EdgeCasesRun, run_edge_cases, self.app.root, on_progress=progress)

    def on_run_progress(self, message: RunProgress) -> None:
        """One event per model (core.evaluation.edgecases calls back after each): the bar and the
        line move model by model."""
        self.query_one("#edge-progress", ProgressBar).update(progress=message.fraction * 100)
        total = getattr(self, "_total", 0) or 1
        done = min(total, round(message.fraction * total))
        self.query_one("#edge-status", Static).update(
            f"{done} of {total} models · {message.text} checked"
            + (" · next model ..." if done < total else " · recording the run ...")
        )

    @on(EdgeCasesRun)
    def _edge_cases_run(self, message: EdgeCasesRun) -> None:
        self.query_one("#edge-progress", ProgressBar).display = False
        if message.error:
            self.show_error(self.query_one("#edge-status", Static), message.error)
            return
        self.clear_error()
        self.app.reload_state()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "edge-run-button":
            self.action_run()
