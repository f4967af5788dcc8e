"""The SVG charts: well-formed, accessible (title, description with every value), bars and
points where the values say, and sensible with no data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from firstcall.reports.charts import HEIGHT, MARGIN_BOTTOM, MARGIN_TOP, Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"
BASELINE = HEIGHT - MARGIN_BOTTOM
PLOT_HEIGHT = BASELINE - MARGIN_TOP


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def texts(root: ET.Element) -> list[str]:
    return [text.text or "" for text in root.iter(f"{SVG}text")]


def test_a_bar_chart_is_accessible_and_its_bars_are_proportional() -> None:
    svg = bar_chart(
        chart_id="open",
        title="Open tickets by priority",
        description="Tickets not resolved now.",
        labels=["P1", "P2", "P3", "P4"],
        series=[Series("open", [2, 0, 8, 4])],
    )
    root = parse(svg)

    assert root.get("role") == "img" and root.get("aria-labelledby") == "open-title open-desc"
    assert root.find(f"{SVG}title").text == "Open tickets by priority"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == (  # type: ignore[union-attr]
        "Tickets not resolved now. P1: 2. P2: 0. P3: 8. P4: 4."
    )
    heights = [float(bar.get("height", "")) for bar in bars(root)]
    assert heights == [PLOT_HEIGHT / 4, 0.0, PLOT_HEIGHT, PLOT_HEIGHT / 2]
    # Every bar stands on the baseline, says its value in its tooltip and in text beside it.
    assert all(float(bar.get("y", "")) + float(bar.get("height", "")) == BASELINE for bar in bars(root))
    assert [bar.find(f"{SVG}title").text for bar in bars(root)] == ["P1 — 2", "P2 — 0", "P3 — 8", "P4 — 4"]  # type: ignore[union-attr]
    assert texts(root) == ["2", "0", "8", "4", "P1", "P2", "P3", "P4"]


def test_two_series_side_by_side_with_a_legend_in_words() -> None:
    root = parse(
        bar_chart(
            chart_id="daily",
            title="Opened and resolved",
            description="Per day.",
            labels=["Mon 2", "Tue 3"],
            series=[Series("opened", [3, 1]), Series("resolved", [0, 6])],
        )
    )

    assert [(bar.get("data-value"), bar.get("fill")) for bar in bars(root)] == [
        ("3", "#0b5cad"),
        ("0", "#1a6e33"),
        ("1", "#0b5cad"),
        ("6", "#1a6e33"),
    ]
    assert float(bars(root)[0].get("height", "")) == PLOT_HEIGHT / 2
    assert texts(root)[:2] == ["opened", "resolved"]
    assert "Mon 2: opened 3, resolved 0. Tue 3: opened 1, resolved 6." in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]
    # The resolved bar of a day sits right of its opened bar.
    assert float(bars(root)[1].get("x", "")) > float(bars(root)[0].get("x", ""))


def test_all_zero_and_no_data() -> None:
    zeros = parse(
        bar_chart(chart_id="z", title="T", description="D.", labels=["a", "b"], series=[Series("n", [0, 0])])
    )
    empty = parse(bar_chart(chart_id="e", title="T", description="D.", labels=[], series=[Series("n", [])]))

    assert bars(zeros) == [] and texts(zeros) == ["No data for this period."]
    assert zeros.find(f"{SVG}desc").text == "D. a: 0. b: 0."  # type: ignore[union-attr]
    assert bars(empty) == [] and texts(empty) == ["No data for this period."]


def test_text_is_escaped() -> None:
    svg = bar_chart(
        chart_id="x",
        title="Hale & Porter <Law>",
        description='"Quoted"',
        labels=["<b>"],
        series=[Series("n", [1])],
    )

    root = parse(svg)
    assert root.find(f"{SVG}title").text == "Hale & Porter <Law>"  # type: ignore[union-attr]
    assert "<b>" not in svg


def test_a_line_chart_leaves_a_gap_where_nothing_was_measured() -> None:
    root = parse(
        line_chart(
            chart_id="sla",
            title="SLA targets met",
            description="Per week.",
            labels=["w1", "w2", "w3", "w4"],
            series=[Series("met", [100, None, 50, 75])],
            maximum=100,
            value_format=lambda value: f"{value:.0f}%",
        )
    )

    points = [point for point in root.iter(f"{SVG}circle") if point.get("class") == "point"]
    assert [point.get("data-value") for point in points] == ["100", "50", "75"]
    assert [float(point.get("cy", "")) for point in points] == [
        MARGIN_TOP,
        MARGIN_TOP + PLOT_HEIGHT / 2,
        MARGIN_TOP + PLOT_HEIGHT / 4,
    ]
    # One line for w3–w4 only: w1 stands alone before the gap.
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 1 and len((lines[0].get("points") or "").split()) == 2
    assert "w2: no data." in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]
    assert {"0%", "50%", "100%", "75%"} <= set(texts(root))


def test_a_line_chart_with_nothing_measured() -> None:
    root = parse(
        line_chart(
            chart_id="sla",
            title="T",
            description="D.",
            labels=["w1", "w2"],
            series=[Series("met", [None, None])],
            maximum=100,
            empty_message="No SLA targets measured in these weeks.",
        )
    )

    assert list(root.iter(f"{SVG}circle")) == [] and texts(root) == [
        "No SLA targets measured in these weeks."
    ]


def test_mismatched_values_are_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        bar_chart(
            chart_id="x", title="T", description="D.", labels=["a", "b", "c"], series=[Series("n", [1, 2])]
        )


def test_many_bars_leave_zeros_unwritten_but_described() -> None:
    labels = [f"d{n}" for n in range(10)]
    root = parse(
        bar_chart(
            chart_id="days",
            title="T",
            description="D.",
            labels=labels,
            series=[Series("n", [0, 0, 0, 0, 0, 0, 0, 0, 3, 0])],
            width=880,
        )
    )

    assert root.get("viewBox") == "0 0 880 200"
    assert len(bars(root)) == 10
    assert [text for text in texts(root) if not text.startswith("d")] == ["3"]
    assert "d0: 0." in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]
