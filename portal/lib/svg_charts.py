"""Server-side SVG charts: line and bar charts that read well on screen, in print and for screen readers.

Pure and domain-free: the caller passes numbers, labels and a formatter; the helper returns SVG markup.
Design rules (NL Design System, WCAG 1.4.1): colour is never the only signal. Every line has its own dash
pattern and marker shape and is labelled directly at its end; bars carry a fill pattern. The root has
``role="img"`` with a ``<title>`` and ``<desc>``; a data table belongs right below the chart on the page.
Every marker carries ``data-label`` and ``data-value`` (the unformatted value), so tests can compare the
chart with its table.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import floor, log10
from xml.sax.saxutils import escape, quoteattr

Formatter = Callable[[int], str]

# Dash patterns and markers that stay apart in black and white.
DASHES = {"solid": None, "dashed": "8 5", "dotted": "2 4", "dashdot": "10 4 2 4"}
MARKERS = ("circle", "square", "triangle", "diamond")
# Dark, print-safe colours (contrast >= 4.5:1 on white); they only help, they never carry meaning alone.
COLOURS = ("#0b4f8a", "#1a1a1a", "#8a5300", "#1d6b34", "#6b2c91")


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, int]]  # (x, y); y in the caller's unit (e.g. cents)
    dash: str = "solid"
    marker: str = "circle"
    labels: Sequence[str] = ()  # one label per point (for data-label and the marker's tooltip)


@dataclass(frozen=True)
class Band:
    """An uncertainty band between ``low`` and ``high`` (same x values), drawn hatched."""

    name: str
    low: Sequence[tuple[float, int]]
    high: Sequence[tuple[float, int]]


@dataclass(frozen=True)
class Chart:
    title: str
    desc: str
    x_ticks: Sequence[tuple[float, str]]
    series: Sequence[Series]
    band: Band | None = None
    y_format: Formatter = str
    width: int = 760
    height: int = 340
    id: str = "grafiek"
    margins: tuple[int, int, int, int] = field(default=(20, 170, 40, 110))  # top, right, bottom, left


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering ``low`` to ``high``."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    power = 10 ** floor(log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = floor(low / step) * step
    ticks, value = [], start
    while value < high + step * 0.999:
        ticks.append(value)
        value += step
    return ticks


def _attr(value: object) -> str:
    return quoteattr(str(value))


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"'
    if shape == "triangle":
        return f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y + 4:.1f} {x - 5:.1f},{y + 4:.1f}" fill="{colour}"'
    if shape == "diamond":
        return (f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}" '
                f'fill="#fff" stroke="{colour}" stroke-width="2"')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"'


def _head(chart: Chart, extra_defs: str = "") -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" viewBox="0 0 {chart.width} {chart.height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="{chart.id}-titel {chart.id}-beschrijving" '
        f'id={_attr(chart.id)}>',
        f'<title id="{chart.id}-titel">{escape(chart.title)}</title>',
        f'<desc id="{chart.id}-beschrijving">{escape(chart.desc)}</desc>',
        f'<defs><pattern id="{chart.id}-arcering" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#6b7075" stroke-width="1.5"/>'
        f'</pattern>{extra_defs}</defs>',
        f'<rect x="0" y="0" width="{chart.width}" height="{chart.height}" fill="#fff"/>',
    ]


def _spread_labels(wanted: list[float], low: float, high: float, gap: float = 15) -> list[float]:
    """Move end labels apart vertically so they never overlap, keeping their order."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [0.0] * len(wanted)
    previous = low - gap
    for i in order:
        placed[i] = max(wanted[i], previous + gap)
        previous = placed[i]
    overflow = previous - high
    if overflow > 0:
        for i in order:
            placed[i] -= overflow
    return placed


def line_chart(chart: Chart) -> str:
    """A line chart over numeric x (e.g. days), with y ticks formatted by ``chart.y_format``."""
    top, right, bottom, left = chart.margins
    plot_w, plot_h = chart.width - left - right, chart.height - top - bottom
    xs = [x for s in chart.series for x, _ in s.points] + [x for x, _ in chart.x_ticks]
    ys = [y for s in chart.series for _, y in s.points]
    if chart.band:
        ys += [y for _, y in chart.band.low] + [y for _, y in chart.band.high]
    x_low, x_high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_high == x_low:
        x_high = x_low + 1
    y_ticks = nice_ticks(min([0, *ys]), max([0, *ys]) or 1)
    y_low, y_high = y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return left + (x - x_low) / (x_high - x_low) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y_low) / (y_high - y_low) * plot_h

    out = _head(chart)
    out.append('<g class="axes" font-size="12" fill="#1a1a1a">')
    for tick in y_ticks:
        y = py(tick)
        stroke = "#1a1a1a" if tick == 0 else "#d5d9de"
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{stroke}"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(chart.y_format(int(tick)))}</text>')
    for x_value, label in chart.x_ticks:
        x = px(x_value)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 5}" stroke="#1a1a1a"/>')
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 20}" text-anchor="middle">{escape(label)}</text>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#1a1a1a"/>')
    out.append("</g>")
    if chart.band and chart.band.low:
        upper = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in chart.band.high)
        lower = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in reversed(chart.band.low))
        out.append(f'<polygon class="band" points="{upper} {lower}" fill="url(#{chart.id}-arcering)" '
                   f'fill-opacity="0.6" stroke="#6b7075" stroke-width="0.5"><title>{escape(chart.band.name)}</title>'
                   f'</polygon>')
    ends: list[tuple[float, str, str]] = []  # lines that reach the right edge: labelled in the margin
    inner: list[str] = []  # lines that end earlier: labelled just below their last point
    for index, series in enumerate(chart.series):
        if not series.points:
            continue
        colour = COLOURS[index % len(COLOURS)]
        dash = DASHES.get(series.dash)
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in series.points)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series" data-series={_attr(series.name)}>')
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
        for point_index, (x, y) in enumerate(series.points):
            label = series.labels[point_index] if point_index < len(series.labels) else str(x)
            out.append(f"{_marker(series.marker, px(x), py(y), colour)} data-label={_attr(label)} "
                       f'data-value="{int(y)}"><title>{escape(series.name)}, {escape(label)}: '
                       f"{escape(chart.y_format(int(y)))}</title></{_tag(series.marker)}>")
        out.append("</g>")
        last_x, last_y = series.points[-1]
        if last_x >= x_high:
            ends.append((py(last_y), series.name, colour))
        else:
            inner.append(f'<text x="{px(last_x) + 6:.1f}" y="{py(last_y) + 18:.1f}" font-size="12" fill="{colour}" '
                         f'font-weight="600">{escape(series.name)}</text>')
    placed = _spread_labels([y for y, _, _ in ends], top + 6, top + plot_h)
    for (_, name, colour), y in zip(ends, placed, strict=True):
        out.append(f'<text x="{left + plot_w + 8}" y="{y + 4:.1f}" font-size="12" fill="{colour}" '
                   f'font-weight="600">{escape(name)}</text>')
    out.extend(inner)
    out.append("</svg>")
    return "\n".join(out)


def _tag(shape: str) -> str:
    return {"square": "rect", "triangle": "polygon", "diamond": "polygon"}.get(shape, "circle")


@dataclass(frozen=True)
class BarGroup:
    label: str
    values: Sequence[int | None]  # one per bar series; None: no bar (no data)


def bar_chart(title: str, desc: str, series_names: Sequence[str], groups: Sequence[BarGroup],
              y_format: Formatter = str, width: int = 760, height: int = 300, chart_id: str = "staaf") -> str:
    """Grouped bars; the first series solid, the second hatched, the third outlined: readable without colour.
    Each bar is labelled with its series in a legend that repeats the fill."""
    chart = Chart(title=title, desc=desc, x_ticks=(), series=(), y_format=y_format, width=width, height=height,
                  id=chart_id, margins=(30, 20, 40, 110))
    top, right, bottom, left = chart.margins
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for g in groups for v in g.values if v is not None]
    y_ticks = nice_ticks(min([0, *values]), max([0, *values]) or 1)
    y_low, y_high = y_ticks[0], y_ticks[-1]

    def py(y: float) -> float:
        return top + plot_h - (y - y_low) / (y_high - y_low) * plot_h

    fills = ("#0b4f8a", f"url(#{chart_id}-arcering)", "#ffffff")
    out = _head(chart)
    out.append('<g class="axes" font-size="12" fill="#1a1a1a">')
    for tick in y_ticks:
        y = py(tick)
        stroke = "#1a1a1a" if tick == 0 else "#d5d9de"
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{stroke}"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(y_format(int(tick)))}</text>')
    out.append("</g>")
    slot = plot_w / max(len(groups), 1)
    bar_w = min(28.0, slot * 0.8 / max(len(series_names), 1))
    for g_index, group in enumerate(groups):
        x0 = left + g_index * slot + (slot - bar_w * len(series_names)) / 2
        out.append(f'<text x="{left + g_index * slot + slot / 2:.1f}" y="{top + plot_h + 20}" font-size="12" '
                   f'text-anchor="middle">{escape(group.label)}</text>')
        for s_index, value in enumerate(group.values):
            if value is None:
                continue
            y_top, y_zero = py(max(value, 0)), py(0)
            h = abs(py(value) - y_zero)
            out.append(f'<rect x="{x0 + s_index * bar_w:.1f}" y="{min(y_top, py(value)):.1f}" width="{bar_w - 2:.1f}" '
                       f'height="{h:.1f}" fill="{fills[s_index % 3]}" stroke="#1a1a1a" stroke-width="1" '
                       f'data-label={_attr(group.label)} data-series={_attr(series_names[s_index])} '
                       f'data-value="{int(value)}"><title>{escape(series_names[s_index])}, {escape(group.label)}: '
                       f"{escape(y_format(int(value)))}</title></rect>")
    legend_x = left
    for s_index, name in enumerate(series_names):
        out.append(f'<rect x="{legend_x}" y="6" width="14" height="14" fill="{fills[s_index % 3]}" stroke="#1a1a1a"/>')
        out.append(f'<text x="{legend_x + 20}" y="18" font-size="12">{escape(name)}</text>')
        legend_x += 30 + 7 * len(name)
    out.append("</svg>")
    return "\n".join(out)
