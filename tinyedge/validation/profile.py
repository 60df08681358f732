"""The report parts of a profile (bench --layers, validate --layers) and of the memory map, one writer
each, shared by bench.html and validation's report.html: the bar chart of time per layer, the
per-layer table, and the memory map's picture and table (tinyedge.memory_map draws it)."""

from __future__ import annotations

import html

from .report import _figure, _png, latency_axis_label  # noqa: F401  (the plot helpers every report uses)

UNIT_NAMES = {"us": "µs", "instructions": "instructions", "cycles": "cycles"}


def _unit(unit: str) -> str:
    return UNIT_NAMES.get(unit, unit)


def layers_png(table: dict, title: str = "") -> bytes:
    """One horizontal bar per step: its time in the board's unit, labelled with its share."""
    rows = table["rows"]
    figure, axes = _figure(8.0, max(2.4, 0.26 * len(rows) + 1.4))
    names = [f"{row['step']} {row['op']} {row['layer']}"[:48] for row in rows]
    values = [row["time"] for row in rows]
    bars = axes.barh(range(len(rows)), values, color="#4c72b0")
    axes.set_yticks(range(len(rows)), names, fontsize=7 if len(rows) > 20 else 8)
    axes.invert_yaxis()
    for bar, row in zip(bars, rows):
        axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {row['share']:.1%}", va="center",
                  fontsize=7)
    axes.set_xlim(0, max(values or [1]) * 1.15)
    axes.ticklabel_format(axis="x", style="plain", useOffset=False)
    unit = table["unit"]
    axes.set_xlabel(f"{_unit(unit)} per step" + (" (emulated: counted by QEMU, not time)"
                                                  if unit == "instructions" else ""))
    ratio = table.get("sum_to_whole")
    axes.set_title(title or "time per layer" + (f" (sum {ratio:.2%} of the whole inference)" if ratio else ""))
    return _png(figure)


def layers_html(table: dict, image: str | None) -> str:
    """The per-layer section: the chart, then op, layer, output shape, MACs, time, share, time per MAC,
    and a last row with the sum against the whole inference."""
    escape = html.escape
    unit = _unit(table["unit"])
    body = []
    for row in table["rows"]:
        value = row.get("time_per_mac")
        per_mac = "–" if value is None else (f"{value:.2f}" if value >= 0.1 else f"{value:.2g}")
        body.append(f"<tr><td>{row['step']}</td><td>{escape(row['op'])}</td><td>{escape(row['layer'])}</td>"
                    f"<td>{escape('x'.join(str(d) for d in row['shape']))}</td><td>{row['macs']:,}</td>"
                    f"<td>{row['time']:,}</td><td>{row['share']:.1%}</td><td>{per_mac}</td></tr>")
    ratio = table.get("sum_to_whole")
    total_macs = sum(row["macs"] for row in table["rows"])
    body.append(f"<tr class=\"sum\"><th></th><th colspan=\"3\">sum of the steps</th><th>{total_macs:,}</th>"
                f"<th>{table['sum']:,}</th><th>" + (f"{ratio:.2%}" if ratio is not None else "") +
                f"</th><th>of the whole inference, {table['whole']:,.0f} {escape(unit)}</th></tr>")
    picture = (f'<figure><img src="{escape(image)}" alt="time per layer"><figcaption>time per layer '
               f'({escape(unit)})</figcaption></figure>') if image else ""
    return (f"<h2>Time per layer</h2>\n{picture}\n<table class=\"layers\"><tr><th>#</th><th>op</th>"
            f"<th>layer</th><th>output shape</th><th>MACs</th><th>time ({escape(unit)})</th><th>share</th>"
            f"<th>{escape(unit)} per MAC</th></tr>\n" + "\n".join(body) + "</table>")


def memory_png(memory: dict, title: str = "") -> bytes:
    from ..memory_map import memory_png as draw
    return draw(memory, title)


def memory_html(memory: dict, image: str | None) -> str:
    from ..memory_map import memory_html as section
    return section(memory, image)
