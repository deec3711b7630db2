"""The report renderers on hand-made data: self-contained HTML, escaped values, the model card."""

from __future__ import annotations

from html.parser import HTMLParser

from modelsnap.core.reporting.report import ReportData, render_html, render_markdown, tradeoff_svg
from modelsnap.core.selection.ranking import RankingSpec, make_criteria, rank

D, S = "d" * 64, "s" * 64


def snap(sid, kind="candidate", *, f1, p95, size):
    return {
        "schema": 1,
        "id": sid,
        "name": f"<{sid}>",
        "kind": kind,
        "version": "v1",
        "created_at": sid,
        "criteria_revision": 1,
        "model": {"estimator": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 3}},
        "data": {"dataset_sha256": D, "split_sha256": S},
        "metrics": {
            "validation": {"f1": f1},
            "test": {"f1": f1 - 0.02},
            "test_ci": {"f1": [f1 - 0.1, f1 + 0.05]},
        },
        "resources": {"latency_p95_ms": p95, "size_mb": size},
        "constraints": {
            "latency_p95_ms": {"value": p95, "limit": 50.0, "ok": p95 <= 50, "over": 0.0}
        },
        "notes": "<script>alert(1)</script>",
    }


SNAPS = [
    snap("01-base", "baseline", f1=0.6, p95=1.0, size=0.1),
    snap("02-good", f1=0.8, p95=3.0, size=2.0),
    snap("03-dominated", f1=0.7, p95=5.0, size=3.0),
    snap("04-slow", f1=0.9, p95=90.0, size=8.0),
]


def data(**kw):
    spec = RankingSpec(
        criteria=make_criteria(
            [{"metric": "f1", "weight": 0.6}, {"metric": "latency_p95_ms", "weight": 0.4}]
        ),
        constraints={"max_latency_p95_ms": 50.0},
        primary_metric="f1",
        dataset_sha256=D,
        split_sha256=S,
    )
    result = rank(SNAPS, spec, sensitivity=True)
    base = dict(
        project_name="Credit & <risk>",
        generated_at="2026-11-26T07:00:00+00:00",
        result=result,
        criteria_revision=1,
        constraints={"max_latency_p95_ms": 50.0},
        snapshots={s["id"]: s for s in SNAPS},
        significance={
            "metric": "f1",
            "alpha": 0.05,
            "vs_runner_up": {
                "a": "02-good",
                "b": "01-base",
                "metric": "f1",
                "method": "paired-bootstrap",
                "difference": 0.2,
                "p_value": 0.01,
                "verdict": "significant",
            },
        },
        decisions=[],
        chain_problems=[],
    )
    base.update(kw)
    return ReportData(**base)


class Parser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, d):
        self.text.append(d)


def parsed(text):
    parser = Parser()
    parser.feed(text)
    parser.close()
    return parser


def test_html_has_no_external_references_and_escapes_everything():
    text = render_html(data())
    p = parsed(text)
    assert not [a for a in p.attrs if a[0] in ("src", "href", "action", "xlink:href")]
    assert "script" not in p.tags and "link" not in p.tags and "iframe" not in p.tags
    assert "http" not in text
    body = "".join(p.text)
    assert "Credit & <risk>" in body and "<script>alert(1)</script>" in body  # shown as text
    assert "latency_p95_ms 90 > 50" in body
    assert "significant" in body and "stays first" in body
    assert "No decision recorded yet" in body


def test_chart_marks_pareto_dominated_and_rejected():
    p = parsed(render_html(data()))
    classes = [v for k, v in p.attrs if k == "class"]
    assert classes.count("pareto") == 2  # base (fastest) and good (best f1 among ranked)
    assert classes.count("point") == 1  # dominated
    assert classes.count("rejected") == 1  # the slow one, drawn as a cross


def test_chart_without_latency_says_so():
    assert "No snapshot has both" in tradeoff_svg([{"id": "a", "x": None, "y": 0.5}], "f1")
    svg = tradeoff_svg(
        [{"id": "a", "x": 1.0, "y": 0.5, "size_mb": 1.0, "pareto": True, "status": "ranked"}], "f1"
    )
    assert svg.count("<circle") == 1


def test_decision_history_and_broken_chain_are_shown():
    decision = {
        "id": "D0001",
        "decided_at": "t",
        "decided_by": "ana",
        "snapshot_id": "03-dominated",
        "criteria_revision": 1,
        "rationale": "explainable <enough>",
        "caveats": ["few rows"],
        "monitoring": "weekly",
        "sha256": "f" * 64,
    }
    text = render_html(data(decisions=[decision], chain_problems=["D0001 was edited"]))
    body = "".join(parsed(text).text)
    assert "explainable <enough>" in body and "Hash chain broken" in body
    assert "D0001 was edited" in body


def test_model_card_of_the_decided_snapshot():
    decision = {
        "id": "D0001",
        "decided_at": "t",
        "decided_by": "ana",
        "snapshot_id": "03-dominated",
        "rationale": "simplest",
        "caveats": ["few rows"],
        "monitoring": "weekly f1",
        "sha256": "f" * 64,
    }
    card = render_markdown(data(decisions=[decision]))
    assert card.startswith("# Model card: Credit &amp; &lt;risk&gt;")  # no raw HTML
    assert "Rationale: simplest" in card and "Caveat: few rows" in card
    assert "`03-dominated`" in card and "#3 of 3" in card
    assert "| f1 | 0.7 | 0.68 |" in card
    assert "## Significance" not in card  # the tests were about the top pick, not this one


def test_model_card_without_decision_describes_the_top_pick():
    card = render_markdown(data())
    assert "Not decided yet" in card and "`02-good`" in card and "#1 of 3" in card
    assert "## Significance (test split)" in card and "**significant**" in card
    assert "## Sensitivity" in card


def test_details_are_capped_but_keep_the_decided_and_the_baseline(monkeypatch):
    from modelsnap.core.reporting import report

    monkeypatch.setattr(report, "DETAIL_LIMIT", 2)
    result = data().result
    shown = report._detailed_ids(result, [{"snapshot_id": "04-slow"}])
    assert shown == ["04-slow", "01-base"]
    assert report._detailed_ids(result, []) == ["01-base", "02-good"]


def test_recorded_constraints_never_print_value_and_limit_alike():
    from modelsnap.core.reporting.report import _snapshot_html

    snapshot = {
        "name": "forest",
        "constraints": {
            "gain_over_baseline": {"value": 0.0099996, "limit": 0.01, "ok": False, "over": 4e-5}
        },
    }
    html = _snapshot_html("s1", snapshot, "rejected")
    assert "<td>0.0099996</td><td>0.01</td>" in html


def _label_spans(svg: str):
    """(text, left, right) of every <text> in the chart, from its x and anchor."""
    import re

    from modelsnap.core.reporting.report import label_extent

    spans = []
    for attrs, text in re.findall(r"<text ([^>]*)>([^<]*)</text>", svg):
        if "rotate" in attrs:
            continue
        x = float(re.search(r'x="([-0-9.]+)"', attrs).group(1))
        anchor = re.search(r'text-anchor="(\w+)"', attrs)
        extent = label_extent(text)
        anchor = anchor.group(1) if anchor else "start"
        left = {"start": x, "middle": x - extent / 2, "end": x - extent}[anchor]
        spans.append((text, left, left + extent))
    return spans


def test_chart_labels_stay_inside_the_view_box():
    points = [
        {
            "id": "a",
            "label": "logistic",
            "x": 1.0,
            "y": 0.70,
            "size_mb": 0.2,
            "pareto": True,
            "status": "ranked",
        },
        {
            "id": "b",
            "label": "gradient_boosting",
            "x": 2.0,
            "y": 0.78,
            "size_mb": 1.0,
            "pareto": True,
            "status": "ranked",
        },
        {
            "id": "c",
            "label": "random_forest",
            "x": 24.0,
            "y": 0.74,
            "size_mb": 30.0,
            "pareto": False,
            "status": "rejected",
        },
        {
            "id": "d",
            "label": "a_very_long_model_name_x",
            "x": 23.0,
            "y": 0.72,
            "size_mb": 3.0,
            "pareto": False,
            "status": "ranked",
        },
    ]
    for width in (640, 320):
        svg = tradeoff_svg(points, "f1", width=width)
        spans = _label_spans(svg)
        assert {"random_forest", "gradient_boosting", "a_very_long_model_name_x"} <= {
            text for text, *_ in spans
        }
        for text, left, right in spans:
            assert left >= 0 and right <= width, (text, left, right, width)


def test_sensitivity_is_a_summary_with_the_table_folded():
    from modelsnap.core.reporting.report import sensitivity_summary

    sens = {
        "top": "t-1",
        "n": 20,
        "stays_first": 18,
        "share": 0.9,
        "cases": [{"criterion": "f1", "change": 0.25, "winner": "m-2", "stays_first": False}] * 2
        + [{"criterion": "f1", "change": 0.1, "winner": "t-1", "stays_first": True}] * 18,
    }
    assert (
        sensitivity_summary(sens, {"m-2": "mlp"})
        == "stays first in 18 of 20 perturbed weightings (90%); otherwise: mlp (2)"
    )
    text = render_html(data())
    section = text[text.index("<h2>Sensitivity</h2>") : text.index("<h2>Decision history")]
    assert "<details><summary>All 8 perturbations</summary><table" in section
    assert section.index("stays first in") < section.index("<details>")


def test_limits_and_lists_read_as_words_not_reprs():
    constraints = {"max_latency_p95_ms": 50.0, "min_metric": {"recall": 0.5}}
    snaps = {
        s["id"]: dict(
            s,
            interpretability={
                "top_features": [{"name": f"f{i}", "importance": 1 / (i + 1)} for i in range(30)],
                "suspect_hits": ["branch_code"],
            },
        )
        for s in SNAPS
    }
    html_text = render_html(data(constraints=constraints, snapshots=snaps))
    body = "".join(parsed(html_text).text)
    assert "recall≥ 0.5" in body.replace("</td><td>", "") or "≥ 0.5" in body
    assert "latency_p95_ms" in body and "≤ 50" in body
    assert "first 5 of 30" in body and "f29" not in body
    card = render_markdown(data(constraints=constraints, snapshots=snaps))
    assert "recall ≥ 0.5" in card and "latency_p95_ms ≤ 50" in card
    assert "f0 1, f1 0.5" in card and "… 25 more" in card
    assert "Parameters: max_depth = 3" in card
    for text in (html_text, card):
        for repr_start in ("{'", "[{", "['", '{"'):
            assert repr_start not in text


def test_sample_project_report_and_card_have_no_reprs(tmp_path):
    import shutil
    from pathlib import Path

    from modelsnap.core.reporting.report import write_report

    sample = Path(__file__).resolve().parents[2] / "sample_project"
    root = tmp_path / "sample"
    shutil.copytree(sample, root, ignore=shutil.ignore_patterns(".modelsnap"))
    write_report(root, tmp_path / "r.html", fmt="html", significance=False)
    write_report(root, tmp_path / "card.md", fmt="md", significance=False)
    html_text = (tmp_path / "r.html").read_text()
    card = (tmp_path / "card.md").read_text()
    for text in (html_text, card):
        for repr_start in ("{'", "[{", "['"):
            assert repr_start not in text, repr_start
    assert "recall ≥ 0.5" in card
    assert "collections branch but prime profile (expected no, predicted yes)" in card
    assert "; otherwise" not in card and "Stays first in 20 of 20" in card
    p = parsed(html_text)
    assert not [a for a in p.attrs if a[0] in ("src", "href", "action", "xlink:href")]
    assert "http" not in html_text


def test_snapshot_details_put_metrics_first_and_provenance_last():
    snaps = {s["id"]: dict(s, environment={"python": "3.11"}, hardware={"cpu": "x"}) for s in SNAPS}
    text = render_html(data(snapshots=snaps))
    detail = text[text.index('<details id="s-02-good">') :]
    detail = detail[: detail.index("</details>")]
    order = [
        detail.index(f"<h4>{h}</h4>")
        for h in (
            "Metrics",
            "Resources",
            "Constraints when recorded",
            "Parameters",
            "Environment",
            "Hardware",
        )
    ]
    assert order == sorted(order)


def test_a_snapshot_says_when_its_interval_came_from_little_bags():
    from modelsnap.core.reporting.report import _snapshot_html

    metrics = {"test": {"f1": 0.8}, "test_ci": {"f1": [0.78, 0.82]}}
    plain = _snapshot_html("s1", {"name": "forest", "metrics": metrics}, "ranked")
    assert "little bootstraps" not in plain
    metrics |= {"test_ci_method": "little-bags", "test_ci_resamples": 1000}
    html = _snapshot_html("s1", {"name": "forest", "metrics": metrics}, "ranked")
    assert "bag of little bootstraps, 1000 resamples" in html
