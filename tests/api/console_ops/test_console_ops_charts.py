"""The console's SVG charts: hostile text is escaped (the SVG stays well-formed and says exactly
what the data said), value flows left to right in the layered fund-flow graph, cycles and
wide traces stay bounded, and out-of-band drift is said in text, not colour only."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from api.console.charts import (
    MAX_ROWS,
    Bar,
    Drift,
    bar_chart,
    bps,
    drift_chart,
    flow_graph,
    layers,
    node_kind,
)
from keeper.forensics import Trace, TraceLimits
from keeper.forensics.mirror import Movement
from strongroom_testkit.forensics import addr

SVG = "{http://www.w3.org/2000/svg}"
T = datetime(2026, 11, 23, 12, tzinfo=UTC)
HOSTILE = '</text><script>alert(1)</script><text x="0" onload="alert(2)">&amp;"\''


def move(n: int, sender: str, recipient: str, amount: int, asset: str = "USDC") -> Movement:
    return Movement(n, "0x" + f"{n:064x}", T, "0x" + f"{n:064x}", 0, asset, addr(0x99), sender,
                    recipient, amount)


def make_trace(nodes: dict[str, tuple[int, list[str]]], edges: list[Movement],
               direction: str = "out") -> Trace:
    t = Trace(next(a for a, (d, _) in nodes.items() if d == 0), direction, TraceLimits())
    t.nodes = {a: {"depth": d, "labels": labels} for a, (d, labels) in nodes.items()}
    t.edges = edges
    return t


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # well-formed, or this raises
    return ["".join(e.itertext()) for e in root.iter() if e.tag in (f"{SVG}text", f"{SVG}title")]


def test_hostile_labels_are_escaped_and_kept_verbatim_in_the_flow_graph() -> None:
    a, b, c = addr(1), addr(2), addr(3)
    t = make_trace({a: (0, ["own:vault"]), b: (1, [f"partner:warp:{HOSTILE}"]),
                    c: (2, ["sanctioned", HOSTILE])},
                   [move(1, a, b, 5_000_000), move(2, b, c, 10**18, "ETH")])
    svg = str(flow_graph(t, title=HOSTILE))
    assert "<script" not in svg and 'onload="' not in svg
    found = texts(svg)
    assert HOSTILE in found  # the chart's title, exactly as given
    assert any(f"partner:warp:{HOSTILE}" in x for x in found)  # the node's tooltip, in full
    assert any("5.000000 USDC" in x for x in found) and any("1.000000000000000000 ETH" in x
                                                           for x in found)


def test_hostile_text_in_bar_and_drift_charts_is_escaped() -> None:
    bars = bar_chart(HOSTILE, [Bar(HOSTILE, 500, 10_000, HOSTILE, 800, 200)])
    drift = drift_chart(HOSTILE, [Drift(HOSTILE, -300, 200)])
    for svg in (str(bars), str(drift)):
        assert "<script" not in svg
        assert texts(svg).count(HOSTILE) >= 2  # title and row label, verbatim


def test_value_flows_left_to_right_whatever_the_direction() -> None:
    a, b, c, d = addr(1), addr(2), addr(3), addr(4)
    out = make_trace({a: (0, []), b: (1, []), c: (2, [])}, [move(1, a, b, 1), move(2, b, c, 1)])
    assert layers(out) == {a: 0, b: 1, c: 2}
    inn = make_trace({a: (0, []), b: (1, []), c: (2, [])}, [move(1, b, a, 1), move(2, c, b, 1)],
                     direction="in")
    assert layers(inn) == {a: 0, b: -1, c: -2}
    both = make_trace({a: (0, []), b: (1, []), d: (1, [])}, [move(1, d, a, 1), move(2, a, b, 1)],
                      direction="both")
    assert layers(both) == {a: 0, b: 1, d: -1}
    # a cycle back to the start is drawn as one more edge, not followed again
    ring = make_trace({a: (0, []), b: (1, []), c: (2, [])},
                      [move(1, a, b, 1), move(2, b, c, 1), move(3, c, a, 1)])
    assert layers(ring) == {a: 0, b: 1, c: 2}
    ET.fromstring(str(flow_graph(ring)))


def test_parallel_movements_are_one_edge_and_wide_columns_are_capped() -> None:
    a = addr(1)
    fan = [addr(100 + i) for i in range(MAX_ROWS + 7)]
    edges = [move(i + 1, a, r, 1) for i, r in enumerate(fan)] + [move(500, a, fan[0], 2)]
    t = make_trace({a: (0, []), **{r: (1, []) for r in fan}}, edges)
    svg = str(flow_graph(t))
    root = ET.fromstring(svg)
    groups = [g for g in root.iter(f"{SVG}g")]
    nodes = [g for g in groups if g.get("class", "").startswith("node")]
    edge_groups = [g for g in groups if g.get("class") == "edge"]
    assert len(nodes) == MAX_ROWS + 1  # the start and a full column
    assert len(edge_groups) == MAX_ROWS  # two movements a -> fan[0] drawn once
    assert any("0.000003 USDC \u00d72" in x for x in texts(svg))
    assert any("7 addresses not drawn" in x for x in texts(svg))


def test_marks_are_said_in_text_and_by_kind() -> None:
    assert [node_kind(x) for x in (["mixer"], ["own:vault"], ["partner:w:c"], ["exchange"], [],
                                   ["own:vault", "sanctioned"])] == [
        "risk", "own", "partner", "labelled", "plain", "risk"]
    a, b = addr(1), addr(2)
    svg = str(flow_graph(make_trace({a: (0, ["own:vault"]), b: (1, ["sanctioned", "mixer"])},
                                    [move(1, a, b, 1)])))
    found = texts(svg)
    assert any(x.startswith("\u26a0 sanctioned +1") for x in found)
    assert any(x.startswith("\u25c6 own:vault") for x in found)
    assert any("(start)" in x for x in found)


def test_drift_chart_says_out_of_band_and_bps_format() -> None:
    svg = str(drift_chart("BTC", [Drift("hot", 2_500, 200), Drift("warm", -200, 200),
                                  Drift("cold", -2_501, 200)]))
    notes = [x for x in texts(svg) if "band \u00b1" in x]
    assert notes == ["+25.00% (band \u00b12.00%) out of band", "-2.00% (band \u00b12.00%)",
                     "-25.01% (band \u00b12.00%) out of band"]
    assert [bps(v) for v in (0, 5, -5, 10_000, -123_456)] == [
        "0.00%", "0.05%", "-0.05%", "100.00%", "-1234.56%"]
