"""The server-side SVG charts: valid XML, accessible (role, title, desc), readable without colour.

The XML parsed here is our own output, never input from outside (hence the S314 exemption)."""

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from portal.lib import svg_charts

NS = {"svg": "http://www.w3.org/2000/svg"}


def _chart(series, band=None, title="Traject <doel> & werkelijk"):
    return svg_charts.line_chart(svg_charts.Chart(
        title=title, desc="Beschrijving met \"aanhalingstekens\"", x_ticks=[(0, "2025"), (365, "2026")],
        series=series, band=band, y_format=lambda v: f"EUR {v // 100}"))


def test_a_line_chart_is_valid_svg_with_title_desc_and_role():
    svg = _chart([svg_charts.Series("Doel", [(0, 0), (365, 10_000_00)], dash="dashed", marker="square",
                                    labels=["start", "eind"]),
                  svg_charts.Series("Werkelijk", [(0, 0), (200, 4_000_00)], labels=["start", "nu"])],
                 band=svg_charts.Band("Bandbreedte", [(200, 4_000_00), (365, 6_000_00)],
                                      [(200, 4_000_00), (365, 9_000_00)]))
    root = ET.fromstring(svg)  # noqa: S314
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("role") == "img"
    assert root.find("svg:title", NS).text == "Traject <doel> & werkelijk"  # escaped, and read back intact
    assert root.find("svg:desc", NS).text.startswith("Beschrijving")
    assert set(root.get("aria-labelledby").split()) == {"grafiek-titel", "grafiek-beschrijving"}
    lines = root.findall(".//svg:polyline", NS)
    assert len(lines) == 2 and lines[0].get("stroke-dasharray") and not lines[1].get("stroke-dasharray")
    markers = [el for el in root.iter() if el.get("data-value") is not None]
    assert [(m.get("data-label"), int(m.get("data-value"))) for m in markers] == [
        ("start", 0), ("eind", 10_000_00), ("start", 0), ("nu", 4_000_00)]
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Doel" in texts and "Werkelijk" in texts  # direct labels, not a colour legend


@given(values=st.lists(st.integers(-10**12, 10**12), min_size=1, max_size=20))
def test_any_numbers_give_valid_svg(values):
    points = [(float(i), v) for i, v in enumerate(values)]
    root = ET.fromstring(_chart([svg_charts.Series("Reeks", points)]))  # noqa: S314
    assert [int(m.get("data-value")) for m in root.iter() if m.get("data-value")] == values


def test_nice_ticks_cover_the_range_in_round_steps():
    ticks = svg_charts.nice_ticks(0, 190_000_000)
    assert ticks[0] <= 0 and ticks[-1] >= 190_000_000 and len(ticks) <= 8


def test_a_bar_chart_is_valid_svg_with_patterns_instead_of_colour_alone():
    svg = svg_charts.bar_chart("Per jaar", "Doel en werkelijk per jaar", ["Doel", "Werkelijk"],
                               [svg_charts.BarGroup("2025", [100, 80]), svg_charts.BarGroup("2026", [150, None])])
    root = ET.fromstring(svg)  # noqa: S314
    assert root.get("role") == "img" and root.find("svg:title", NS).text == "Per jaar"
    bars = [el for el in root.iter("{http://www.w3.org/2000/svg}rect") if el.get("data-value")]
    assert [(b.get("data-label"), b.get("data-series"), int(b.get("data-value"))) for b in bars] == [
        ("2025", "Doel", 100), ("2025", "Werkelijk", 80), ("2026", "Doel", 150)]
    assert bars[1].get("fill").startswith("url(#")  # hatched, not only another colour
