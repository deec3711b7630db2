"""The report renderers on hand-made data: self-contained HTML, escaped values, the model card."""

from __future__ import annotations

from html.parser import HTMLParser

from modelsnap.core.ranking import RankingSpec, make_criteria, rank
from modelsnap.core.report import ReportData, render_html, render_markdown, tradeoff_svg

D, S = "d" * 64, "s" * 64


def snap(sid, kind="candidate", *, f1, p95, size):
    return {"schema": 1, "id": sid, "name": f"<{sid}>", "kind": kind, "version": "v1",
            "created_at": sid, "criteria_revision": 1,
            "model": {"estimator": "sklearn.tree.DecisionTreeClassifier",
                      "params": {"max_depth": 3}},
            "data": {"dataset_sha256": D, "split_sha256": S},
            "metrics": {"validation": {"f1": f1}, "test": {"f1": f1 - 0.02},
                        "test_ci": {"f1": [f1 - 0.1, f1 + 0.05]}},
            "resources": {"latency_p95_ms": p95, "size_mb": size},
            "constraints": {"latency_p95_ms": {"value": p95, "limit": 50.0, "ok": p95 <= 50,
                                               "over": 0.0}},
            "notes": "<script>alert(1)</script>"}


SNAPS = [snap("01-base", "baseline", f1=0.6, p95=1.0, size=0.1),
         snap("02-good", f1=0.8, p95=3.0, size=2.0),
         snap("03-dominated", f1=0.7, p95=5.0, size=3.0),
         snap("04-slow", f1=0.9, p95=90.0, size=8.0)]


def data(**kw):
    spec = RankingSpec(criteria=make_criteria([{"metric": "f1", "weight": 0.6},
                                               {"metric": "latency_p95_ms", "weight": 0.4}]),
                       constraints={"max_latency_p95_ms": 50.0}, primary_metric="f1",
                       dataset_sha256=D, split_sha256=S)
    result = rank(SNAPS, spec, sensitivity=True)
    base = dict(project_name="Credit & <risk>", generated_at="2026-11-26T07:00:00+00:00",
                result=result, criteria_revision=1, constraints={"max_latency_p95_ms": 50.0},
                snapshots={s["id"]: s for s in SNAPS}, significance={
                    "metric": "f1", "alpha": 0.05,
                    "vs_runner_up": {"a": "02-good", "b": "01-base", "metric": "f1",
                                     "method": "paired-bootstrap", "difference": 0.2,
                                     "p_value": 0.01, "verdict": "significant"}},
                decisions=[], chain_problems=[])
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
    assert classes.count("pareto") == 2      # base (fastest) and good (best f1 among ranked)
    assert classes.count("point") == 1       # dominated
    assert classes.count("rejected") == 1    # the slow one, drawn as a cross


def test_chart_without_latency_says_so():
    assert "No snapshot has both" in tradeoff_svg([{"id": "a", "x": None, "y": 0.5}], "f1")
    svg = tradeoff_svg([{"id": "a", "x": 1.0, "y": 0.5, "size_mb": 1.0, "pareto": True,
                         "status": "ranked"}], "f1")
    assert svg.count("<circle") == 1


def test_decision_history_and_broken_chain_are_shown():
    decision = {"id": "D0001", "decided_at": "t", "decided_by": "ana",
                "snapshot_id": "03-dominated",
                "criteria_revision": 1, "rationale": "explainable <enough>",
                "caveats": ["few rows"], "monitoring": "weekly", "sha256": "f" * 64}
    text = render_html(data(decisions=[decision], chain_problems=["D0001 was edited"]))
    body = "".join(parsed(text).text)
    assert "explainable <enough>" in body and "Hash chain broken" in body
    assert "D0001 was edited" in body


def test_model_card_of_the_decided_snapshot():
    decision = {"id": "D0001", "decided_at": "t", "decided_by": "ana",
                "snapshot_id": "03-dominated", "rationale": "simplest", "caveats": ["few rows"],
                "monitoring": "weekly f1", "sha256": "f" * 64}
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
    from modelsnap.core import report

    monkeypatch.setattr(report, "DETAIL_LIMIT", 2)
    result = data().result
    shown = report._detailed_ids(result, [{"snapshot_id": "04-slow"}])
    assert shown == ["04-slow", "01-base"]
    assert report._detailed_ids(result, []) == ["01-base", "02-good"]
