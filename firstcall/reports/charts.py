"""Small charts as server-rendered SVG: a bar chart (one or more series side by side) and a line
chart, with no JavaScript. Each is an ``<svg role="img">`` whose ``<title>`` and ``<desc>`` give
its meaning and every value in words, each bar or point has its own ``<title>`` (a tooltip) and
its value written beside it, and series are told apart by a legend in words, not by colour
alone. The drawing scales to its container (viewBox, width 100 %).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# At least 3:1 against white (WCAG 1.4.11), and told apart by more than hue for most colour
# vision: a dark blue, a mid green, a brown.
SERIES_COLOURS = ("#0b5cad", "#1a6e33", "#8a3300")
TEXT_COLOUR = "#1b1f24"
MUTED_COLOUR = "#57606a"
GRID_COLOUR = "#d0d7de"

# In viewBox units. A card on a phone is about 330 px wide, so text of 13 units in a 400-unit
# chart is drawn at about 11 px; a wider chart (many bars) should be given a minimum width by
# the page, and scroll sideways on a phone rather than shrink its text.
WIDTH = 400
HEIGHT = 200
MARGIN_TOP = 36  # room for the legend and the values above the tallest bar
MARGIN_BOTTOM = 24  # room for the labels under the axis
MARGIN_LEFT = 40  # room for the axis values of a line chart
MARGIN_RIGHT = 8
FONT_SIZE = 13
CHARACTER_WIDTH = 0.6 * FONT_SIZE  # about, for a system sans-serif font
# Beyond this many labels, zero values are not written over the baseline (they would crowd the
# axis); the description and each bar's tooltip still say them.
MOST_LABELS_WITH_ZEROS_WRITTEN = 8


@dataclass(frozen=True)
class Series:
    """One named row of values, one per label; None where there is no value (nothing measured)."""

    name: str
    values: Sequence[float | None]


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def _attrs(**values: object) -> str:
    """Keyword arguments as SVG attributes: ``text_anchor="end"`` → ``text-anchor="end"``."""
    return " ".join(f'{name.replace("_", "-")}="{escape(str(value))}"' for name, value in values.items())


def _open_svg(chart_id: str, title: str, description: str, width: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" width="100%" '
        f'role="img" class="chart" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'font-size="{FONT_SIZE}" font-family="system-ui, sans-serif">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]


def _values_in_words(
    labels: Sequence[str], series: Sequence[Series], value_format: Callable[[float], str]
) -> str:
    """Every value, for screen readers: "Mon 2: opened 5, resolved 3. Tue 3: …"."""
    sentences = []
    for n, label in enumerate(labels):
        parts = []
        for row in series:
            value = row.values[n]
            shown = "no data" if value is None else value_format(value)
            parts.append(f"{row.name} {shown}" if len(series) > 1 else shown)
        sentences.append(f"{label}: {', '.join(parts)}.")
    return " ".join(sentences)


def _legend(series: Sequence[Series]) -> list[str]:
    if len(series) < 2:
        return []
    parts = []
    x = float(MARGIN_LEFT)
    for colour, row in zip(SERIES_COLOURS, series, strict=False):
        parts.append(f"<rect {_attrs(x=round(x, 1), y=4, width=12, height=12, fill=colour)}/>")
        parts.append(f"<text {_attrs(x=round(x + 16, 1), y=15, fill=TEXT_COLOUR)}>{escape(row.name)}</text>")
        x += 28 + CHARACTER_WIDTH * len(row.name)
    return parts


def _finish(parts: list[str]) -> SafeString:
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text in it is escaped above


def _empty(parts: list[str], message: str, width: int) -> SafeString:
    parts.append(
        f"<text {_attrs(x=width / 2, y=HEIGHT / 2, fill=MUTED_COLOUR, text_anchor='middle')}>"
        f"{escape(message)}</text>"
    )
    return _finish(parts)


def _x_labels(labels: Sequence[str], slot: float, baseline: float) -> list[str]:
    # Every label when they fit, else every other one (the latest always).
    longest = max((len(label) for label in labels), default=0)
    step = 1 if slot >= (longest + 1) * CHARACTER_WIDTH else 2
    parts = []
    for n, label in enumerate(labels):
        if (len(labels) - 1 - n) % step:
            continue
        x = MARGIN_LEFT + slot * (n + 0.5)
        parts.append(
            f"<text {_attrs(x=round(x, 1), y=baseline + 17, fill=MUTED_COLOUR, text_anchor='middle')}>"
            f"{escape(label)}</text>"
        )
    return parts


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_format: Callable[[float], str] = _number,
    empty_message: str = "No data for this period.",
    width: int = WIDTH,
) -> SafeString:
    """Bars for each label, one per series side by side, heights proportional to the values
    (the tallest value fills the plot). With no value above zero, ``empty_message`` instead (the
    description still lists every value)."""
    _check(labels, series)
    parts = _open_svg(
        chart_id, title, f"{description} {_values_in_words(labels, series, value_format)}", width
    )
    values = [value for row in series for value in row.values if value is not None]
    if not any(values):  # nothing to draw: say so rather than show an empty frame
        return _empty(parts, empty_message, width)
    parts += _legend(series)
    baseline = HEIGHT - MARGIN_BOTTOM
    plot_height = baseline - MARGIN_TOP
    top = max(values)
    slot = (width - MARGIN_LEFT - MARGIN_RIGHT) / len(labels)
    bar_width = slot * 0.8 / len(series)
    write_zeros = len(labels) <= MOST_LABELS_WITH_ZEROS_WRITTEN
    for n, label in enumerate(labels):
        for s, (colour, row) in enumerate(zip(SERIES_COLOURS, series, strict=False)):
            value = row.values[n]
            if value is None:
                continue
            height = plot_height * value / top
            x = MARGIN_LEFT + slot * n + slot * 0.1 + bar_width * s
            y = baseline - height
            name = f"{row.name}: " if len(series) > 1 else ""
            parts.append(
                f'<rect class="bar" {_attrs(x=round(x, 2), y=round(y, 2), width=round(bar_width, 2))} '
                f"{_attrs(height=round(height, 2), fill=colour, data_value=_number(value))}>"
                f"<title>{escape(f'{label} — {name}{value_format(value)}')}</title></rect>"
            )
            if value or write_zeros:
                centre = round(x + bar_width / 2, 2)
                parts.append(
                    f"<text {_attrs(x=centre, y=round(y - 4, 2), fill=TEXT_COLOUR, text_anchor='middle')}>"
                    f"{escape(value_format(value))}</text>"
                )
    parts.append(
        f"<line {_attrs(x1=MARGIN_LEFT, y1=baseline, x2=width - MARGIN_RIGHT, y2=baseline)} "
        f'stroke="{MUTED_COLOUR}"/>'
    )
    parts += _x_labels(labels, slot, baseline)
    return _finish(parts)


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    maximum: float,
    value_format: Callable[[float], str] = _number,
    empty_message: str = "No data for this period.",
    width: int = WIDTH,
) -> SafeString:
    """A line per series over the labels, on a fixed scale from 0 to ``maximum`` (e.g. 100 for
    percentages) with grid lines at 0, half and the maximum. A None value leaves a gap in the
    line (nothing was measured then), never a fall to zero."""
    _check(labels, series)
    if maximum <= 0:
        raise ValueError("maximum must be positive")
    parts = _open_svg(
        chart_id, title, f"{description} {_values_in_words(labels, series, value_format)}", width
    )
    if all(value is None for row in series for value in row.values):
        return _empty(parts, empty_message, width)
    parts += _legend(series)
    baseline = HEIGHT - MARGIN_BOTTOM
    plot_height = baseline - MARGIN_TOP
    for level in (0.0, maximum / 2, maximum):
        y = round(baseline - plot_height * level / maximum, 2)
        parts.append(
            f"<line {_attrs(x1=MARGIN_LEFT, y1=y, x2=width - MARGIN_RIGHT, y2=y, stroke=GRID_COLOUR)}/>"
        )
        parts.append(
            f"<text {_attrs(x=MARGIN_LEFT - 4, y=y + 4, fill=MUTED_COLOUR, text_anchor='end')}>"
            f"{escape(value_format(level))}</text>"
        )
    slot = (width - MARGIN_LEFT - MARGIN_RIGHT) / len(labels)
    for colour, row in zip(SERIES_COLOURS, series, strict=False):
        points: list[tuple[float, float, float, str]] = []
        runs: list[list[tuple[float, float]]] = [[]]
        for n, label in enumerate(labels):
            value = row.values[n]
            if value is None:
                runs.append([])
                continue
            clamped = min(max(value, 0.0), maximum)
            x = round(MARGIN_LEFT + slot * (n + 0.5), 2)
            y = round(baseline - plot_height * clamped / maximum, 2)
            runs[-1].append((x, y))
            points.append((x, y, value, label))
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{x},{y}" for x, y in run)
                parts.append(f"<polyline {_attrs(points=path, fill='none', stroke=colour, stroke_width=2)}/>")
        for x, y, value, label in points:
            name = f"{row.name}: " if len(series) > 1 else ""
            parts.append(
                f'<circle class="point" {_attrs(cx=x, cy=y, r=4, fill=colour, data_value=_number(value))}>'
                f"<title>{escape(f'{label} — {name}{value_format(value)}')}</title></circle>"
            )
            parts.append(
                f"<text {_attrs(x=x, y=round(y - 8, 2), fill=TEXT_COLOUR, text_anchor='middle')}>"
                f"{escape(value_format(value))}</text>"
            )
    parts += _x_labels(labels, slot, baseline)
    return _finish(parts)


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    if not series:
        raise ValueError("a chart needs at least one series")
    if len(series) > len(SERIES_COLOURS):
        raise ValueError(f"at most {len(SERIES_COLOURS)} series")
    for row in series:
        if len(row.values) != len(labels):
            raise ValueError(f"series {row.name!r} has {len(row.values)} values for {len(labels)} labels")
