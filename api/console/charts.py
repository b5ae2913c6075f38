"""Server-side SVG charts of the console: bars, drift from target, and the fund-flow graph.

Every chart is a string of SVG built here, returned as :class:`markupsafe.Markup` for the
templates. Every text that comes from data (asset symbols, addresses, labels, titles) goes
through :func:`markupsafe.escape`, in element text and in attribute values alike; no ``style``
attributes (the console's CSP allows no inline styles: colours are presentation attributes), no
scripts. Geometry is integer arithmetic over integer inputs (basis points, base units): no float
ever touches an amount. Meaning is never carried by colour alone: out-of-band bars and labelled
addresses say so in text too, and each chart has a ``<title>``/``<desc>`` for screen readers.

* :func:`bar_chart` horizontal bars (e.g. a tier's share of an asset) with an optional target
  marker and tolerance band per bar;
* :func:`drift_chart` diverging bars of drift from target (basis points) with the band marked;
* :func:`flow_graph` a fund-flow trace (:class:`keeper.forensics.Trace`) drawn as a layered
  graph: value flows left to right, the start in the column marked "start", our wallets,
  partners and risky addresses marked; parallel movements between two addresses are drawn as
  one edge with their count and sum per asset.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from keeper.assets import by_symbol
from keeper.forensics import Trace
from keeper.recon.figures import format_units

FONT = 'font-family="sans-serif" font-size="12"'
RISK_LABELS = ("sanctioned", "mixer", "darknet")
COLOURS = {"risk": ("#fde8e8", "#b00020"), "own": ("#e6f4ea", "#137333"),
           "partner": ("#e8f0fe", "#1a56c4"), "labelled": ("#fef7e0", "#a05a00"),
           "plain": ("#ffffff", "#555555")}
MARKS = {"risk": "\u26a0 ", "own": "\u25c6 ", "partner": "\u25cf ", "labelled": "\u25b2 ",
         "plain": ""}
MAX_ROWS = 25  # addresses drawn per column of the flow graph (the rest listed as "not drawn")
MAX_WIDTH = 1150  # drawn at most this wide (px), scaled down through the viewBox beyond it


def bps(value: int) -> str:
    """Basis points as a signed-if-negative percentage with two decimals (``-1.25%``)."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(int(value)), 100)
    return f"{sign}{whole}.{frac:02d}%"


def _svg(width: int, height: int, title: str, desc: str, body: Iterable[str]) -> Markup:
    shown_w = min(width, MAX_WIDTH)
    shown_h = height * shown_w // width
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{shown_w}" height="{shown_h}" '
            f'viewBox="0 0 {width} {height}" role="img" {FONT}>'
            f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>")
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every data text escaped here


def _text(x: int, y: int, text: str, **attrs: object) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return f'<text x="{x}" y="{y}"{extra}>{escape(text)}</text>'


@dataclass(frozen=True)
class Bar:
    """One bar: ``value`` out of ``scale`` (same unit, e.g. basis points), an optional
    ``target`` with a tolerance ``band`` around it, and the ``note`` printed after the bar."""

    label: str
    value: int
    scale: int
    note: str = ""
    target: int | None = None
    band: int = 0
    alarm: bool = False  # drawn in the alarm colour (its note must say why)


def bar_chart(title: str, bars: Sequence[Bar], *, width: int = 620) -> Markup:
    """Horizontal bars, one row each: label, bar (with its target marker and band), note."""
    label_w, note_w, row = 90, 250, 28
    plot = width - label_w - note_w
    parts: list[str] = []
    for i, b in enumerate(bars):
        y = 10 + i * row
        scale = max(b.scale, 1)
        parts.append(_text(0, y + 14, b.label))
        parts.append(f'<rect x="{label_w}" y="{y}" width="{plot}" height="18" fill="#f1f3f4"/>')
        if b.target is not None:
            lo = max(b.target - b.band, 0) * plot // scale
            hi = min(b.target + b.band, scale) * plot // scale
            parts.append(f'<rect x="{label_w + lo}" y="{y}" width="{max(hi - lo, 1)}" height="18" '
                         f'fill="#d2e3fc"/>')
        w = min(max(b.value, 0), scale) * plot // scale
        fill = "#b00020" if b.alarm else "#1a73e8"
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="10" fill="{fill}"/>')
        if b.target is not None:
            tx = label_w + min(max(b.target, 0), scale) * plot // scale
            parts.append(f'<line x1="{tx}" y1="{y - 2}" x2="{tx}" y2="{y + 20}" stroke="#202124" '
                         f'stroke-width="2"/>')
        parts.append(_text(label_w + plot + 8, y + 14, b.note))
    desc = "; ".join(f"{b.label}: {b.note}" for b in bars)
    return _svg(width, 10 + len(bars) * row, title, desc, parts)


@dataclass(frozen=True)
class Drift:
    """One row of a drift chart: ``drift`` and ``band`` in basis points."""

    label: str
    drift: int
    band: int

    @property
    def out_of_band(self) -> bool:
        """Whether ``|drift|`` exceeds the band (the treasury's one rule, restated for display:
        :func:`keeper.treasury.moves.out_of_band` decides; this only colours the bar)."""
        return abs(self.drift) > self.band


def drift_chart(title: str, rows: Sequence[Drift], *, width: int = 620) -> Markup:
    """Diverging bars of drift from target around a centre line, the band dashed either side;
    a bar beyond its band is drawn in the alarm colour and says "out of band"."""
    label_w, note_w, row = 90, 250, 28
    plot = width - label_w - note_w
    half = plot // 2
    centre = label_w + half
    reach = max([abs(r.drift) for r in rows] + [2 * r.band for r in rows] + [100])
    parts = [f'<line x1="{centre}" y1="2" x2="{centre}" y2="{12 + len(rows) * row}" '
             f'stroke="#202124"/>']
    for i, r in enumerate(rows):
        y = 10 + i * row
        parts.append(_text(0, y + 14, r.label))
        band = r.band * half // reach
        parts.append(f'<rect x="{centre - band}" y="{y}" width="{2 * band}" height="18" '
                     f'fill="#e8f0fe" stroke="#1a56c4" stroke-dasharray="3 2"/>')
        length = abs(r.drift) * half // reach
        x = centre if r.drift >= 0 else centre - length
        fill = "#b00020" if r.out_of_band else "#137333"
        parts.append(f'<rect x="{x}" y="{y + 4}" width="{max(length, 1)}" height="10" '
                     f'fill="{fill}"/>')
        note = f"{'+' if r.drift > 0 else ''}{bps(r.drift)} (band \u00b1{bps(r.band)})"
        if r.out_of_band:
            note += " out of band"
        parts.append(_text(label_w + plot + 8, y + 14, note))
    desc = "; ".join(f"{r.label}: drift {bps(r.drift)}, band {bps(r.band)}"
                     + (", out of band" if r.out_of_band else "") for r in rows)
    return _svg(width, 14 + len(rows) * row, title, desc, parts)


# ---- the fund-flow graph ------------------------------------------------------------------


def node_kind(labels: Sequence[str]) -> str:
    """How an address is marked: ``risk`` (sanctioned, mixer, darknet), ``own`` (our
    wallets), ``partner``, ``labelled`` (any other label, e.g. exchange) or ``plain``."""
    def has(prefix: str) -> bool:
        return any(lb == prefix or lb.startswith(prefix + ":") for lb in labels)
    if any(has(p) for p in RISK_LABELS):
        return "risk"
    for kind in ("own", "partner"):
        if has(kind):
            return kind
    return "labelled" if labels else "plain"


def short(address: str) -> str:
    """``0x1234…cdef`` (the full address is in the node's tooltip and the table)."""
    return address if len(address) <= 14 else f"{address[:6]}\u2026{address[-4:]}"


def amount(units: int, asset: str) -> str:
    """``units`` of ``asset`` for display (the recon formatter; raw units for an unknown
    symbol)."""
    try:
        by_symbol(asset)
    except (KeyError, ValueError):
        return f"{units} {asset}"
    return format_units(units, asset)


def layers(trace: Trace) -> dict[str, int]:
    """The column of every address: the start's at 0, a recipient one right of its sender, a
    sender one left of its recipient, breadth first from the start along the traced direction
    (then any address left over, the other way), so value flows left to right whatever was
    traced and a cycle back to the start is an edge, not a new column; addresses no movement
    reaches keep their depth."""
    out: dict[str, list[str]] = {}
    inn: dict[str, list[str]] = {}
    for m in trace.edges:
        out.setdefault(m.sender, []).append(m.recipient)
        inn.setdefault(m.recipient, []).append(m.sender)
    col = {a: 0 for a, n in trace.nodes.items() if n["depth"] == 0}
    ways = {"out": ((out, 1),), "in": ((inn, -1),)}.get(trace.direction, ((out, 1), (inn, -1)))
    for steps in (ways, ((out, 1), (inn, -1))):
        queue = deque(sorted(col))
        while queue:
            a = queue.popleft()
            for links, step in steps:
                for nxt in links.get(a, ()):
                    if nxt not in col and nxt in trace.nodes:
                        col[nxt] = col[a] + step
                        queue.append(nxt)
    for a, n in trace.nodes.items():
        col.setdefault(a, n["depth"])
    return col


def _order(col: dict[str, int], links: set[tuple[str, str]]) -> dict[int, list[str]]:
    """Addresses per column, ordered to cross few edges: by address first, then two barycentre
    sweeps (each column by its neighbours' mean position in the column left of it, then in
    the column right of it)."""
    columns: dict[int, list[str]] = {}
    for a in sorted(col):
        columns.setdefault(col[a], []).append(a)
    nbrs: dict[str, list[str]] = {}
    for s, r in links:
        nbrs.setdefault(s, []).append(r)
        nbrs.setdefault(r, []).append(s)
    keys = sorted(columns)
    for sweep, side in ((keys[1:], -1), (keys[-2::-1], 1)):
        for c in sweep:
            pos = {a: i for i, a in enumerate(columns.get(c + side, []))}

            def centre(a: str, pos: dict[str, int] = pos) -> tuple[int, str]:
                ps = [pos[n] for n in nbrs.get(a, ()) if n in pos]
                return (sum(ps) * 1000 // len(ps) if ps else 10**9, a)
            columns[c].sort(key=centre)
    return columns


def flow_graph(trace: Trace, *, title: str = "Fund flow") -> Markup:
    """The trace as a layered graph (see the module docstring); at most :data:`MAX_ROWS`
    addresses per column are drawn, the rest counted in the caption."""
    col = layers(trace)
    sums: dict[tuple[str, str], dict[str, list[int]]] = {}
    for m in trace.edges:
        per = sums.setdefault((m.sender, m.recipient), {})
        acc = per.setdefault(m.asset, [0, 0])
        acc[0] += m.amount
        acc[1] += 1
    columns = _order(col, set(sums))
    hidden = sum(max(len(v) - MAX_ROWS, 0) for v in columns.values())
    lo = min(columns, default=0)
    box_w, box_h, col_w, row_h, top = 200, 48, 300, 66, 40
    where: dict[str, tuple[int, int]] = {}
    for c, addrs in columns.items():
        for i, a in enumerate(addrs[:MAX_ROWS]):
            where[a] = (10 + (c - lo) * col_w, top + i * row_h)
    width = 10 + len(columns) * col_w - (col_w - box_w) + 10 if columns else 240
    rows = max((min(len(v), MAX_ROWS) for v in columns.values()), default=1)
    height = top + rows * row_h + 30
    parts = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
             'fill="#5f6368"/></marker></defs>']
    for c in columns:
        x = 10 + (c - lo) * col_w
        head = "start" if c == 0 else (f"+{c} hop{'s' if c > 1 else ''}" if c > 0
                                       else f"{c} hop{'s' if c < -1 else ''}")
        parts.append(_text(x, 20, head, font_weight="bold"))
    for (s, r), per in sorted(sums.items()):
        if s not in where or r not in where:
            continue
        (sx, sy), (rx, ry) = where[s], where[r]
        x1, y1, x2, y2 = sx + box_w, sy + box_h // 2, rx, ry + box_h // 2
        if rx <= sx:  # a movement back to an earlier column (a cycle): an arc under the boxes
            x1, x2 = sx + box_w // 2, rx + box_w // 2
            y1, y2 = sy + box_h, ry + box_h
            bend = max(y1, y2) + 30
            d = f"M{x1},{y1} C{x1},{bend} {x2},{bend} {x2},{y2}"
            mid = ((x1 + x2) // 2, bend - 4)
        else:
            d = f"M{x1},{y1} C{x1 + 40},{y1} {x2 - 40},{y2} {x2},{y2}"
            mid = ((x1 + x2) // 2, (y1 + y2) // 2 - 4)
        text = ", ".join(f"{amount(v[0], a)}" + (f" \u00d7{v[1]}" if v[1] > 1 else "")
                         for a, v in sorted(per.items()))
        parts.append(f'<g class="edge"><title>{escape(s)} \u2192 {escape(r)}: {escape(text)}'
                     f'</title><path d="{d}" fill="none" stroke="#5f6368" stroke-width="1.5" '
                     f'marker-end="url(#arrow)"/>'
                     + _text(mid[0], mid[1], text, text_anchor="middle", font_size="10")
                     + "</g>")
    for a, (x, y) in sorted(where.items()):
        labels = list(trace.nodes[a]["labels"])
        kind = node_kind(labels)
        fill, stroke = COLOURS[kind]
        start = trace.nodes[a]["depth"] == 0
        first = (MARKS[kind] + labels[0]) if labels else ""
        if len(labels) > 1:
            first += f" +{len(labels) - 1}"
        tip = a + (": " + ", ".join(labels) if labels else "")
        parts.append(
            f'<g class="node {kind}{" start" if start else ""}"><title>{escape(tip)}</title>'
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="4" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{3 if start else 1}"/>'
            + _text(x + 8, y + 19, short(a) + (" (start)" if start else ""),
                    font_family="monospace")
            + _text(x + 8, y + 37, first[:34], fill=stroke)
            + "</g>")
    caption = (f"{len(trace.nodes)} addresses, {len(trace.edges)} movements"
               + (f", {hidden} addresses not drawn (see the table)" if hidden else "")
               + (f", {trace.truncated} cut by the trace's bounds" if trace.truncated else ""))
    parts.append(_text(10, height - 10, caption))
    desc = (f"Trace {trace.direction} from {trace.start}: {caption}. Marked: "
            + "; ".join(f"{a} {', '.join(n['labels'])}" for a, n in sorted(trace.nodes.items())
                        if n["labels"]))
    return _svg(max(width, 240), height, title, desc, parts)
