"""monitor.html, written from the records of monitor.jsonl's last run: the verdict, a time series per
statistic (each window's PSI with the threshold drawn in; the saturated share with the baseline's and
the drift line; the mean latency with validation's and the tolerance band), and every histogram of the
run beside the baseline's, as PNGs beside the page (monitor-series.png, monitor-histograms.png) the way
the validation and bench reports embed theirs. Every file is written atomically."""

from __future__ import annotations

import html
import time
from pathlib import Path

from .. import buildfiles as files
from ..fileio import write_bytes_atomic, write_text_atomic
from ..htmlpage import html_document
from .drift import HISTOGRAM_LABELS, LATENCY, SATURATION
from .snapshot import KIND_HISTOGRAMS

SERIES_PNG = "monitor-series.png"
HISTOGRAMS_PNG = "monitor-histograms.png"
DRIFT_COLOUR, CALM_COLOUR, BASE_COLOUR = "#c44e52", "#4c72b0", "#55a868"
STYLE = """.drift { color: #c44e52; font-weight: bold; }
.calm { color: #2b7a3d; font-weight: bold; }
td.drift { background: #fbe9ea; }
"""


def _figure(rows: int, width: float = 8.0, row_height: float = 2.3):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, max(row_height * rows, 2.4)), dpi=100)
    return figure, figure.subplots(rows, 1, squeeze=False)[:, 0]


def _png(figure) -> bytes:
    import io
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def statistics_of(kind: str) -> list[str]:
    """The histogram statistics of a kind, in the order shown."""
    return ["input_histogram", *KIND_HISTOGRAMS[kind]]


def _windows(records: list[dict]) -> list[tuple[float, dict]]:
    """(elapsed seconds, judgement) of every judged window; a merged tail replaces the last one."""
    windows: list[tuple[float, dict]] = []
    for record in records:
        if record["type"] == "reading" and record.get("judgement"):
            windows.append((record["elapsed"], record["judgement"]))
        elif record["type"] == "merged" and windows:
            windows[-1] = (windows[-1][0], record["judgement"])
    return windows


def _finding(judgement: dict, statistic: str) -> dict | None:
    return next((f for f in judgement["findings"] if f["statistic"] == statistic), None)


def series_png(records: list[dict], start: dict) -> bytes | None:
    windows = _windows(records)
    if not windows:
        return None
    thresholds = start["thresholds"]
    names = statistics_of(start["kind"]) + [SATURATION]
    if any(_finding(j, LATENCY) for _, j in windows):
        names.append(LATENCY)
    figure, axes = _figure(len(names))
    for axis, name in zip(axes, names):
        points = [(t, _finding(j, name)) for t, j in windows]
        points = [(t, f) for t, f in points if f is not None and f["value"] is not None]
        times = [t for t, _ in points]
        values = [f["value"] for _, f in points]
        colours = [DRIFT_COLOUR if f["drift"] else CALM_COLOUR for _, f in points]
        axis.plot(times, values, color="#888888", linewidth=1, zorder=1)
        axis.scatter(times, values, c=colours, s=28, zorder=2)
        if name == SATURATION:
            base = points[0][1]["baseline"] if points else None
            if base is not None:
                axis.axhline(base, color=BASE_COLOUR, label=f"baseline {base:.1%}")
                axis.axhline(base + thresholds["saturation_increase"], color=DRIFT_COLOUR, linestyle="--",
                             label=f"drift above {base + thresholds['saturation_increase']:.1%}")
            axis.set_ylabel("saturated share")
            axis.set_title("input values saturated at -128 / 127, per window")
        elif name == LATENCY:
            base = points[0][1]["baseline"] if points else None
            if base:
                tolerance = thresholds["latency_tolerance"]
                axis.axhline(base, color=BASE_COLOUR, label=f"validation mean {base:,.0f}")
                axis.axhspan(base * (1 - tolerance), base * (1 + tolerance), color=BASE_COLOUR, alpha=0.12,
                             label=f"±{tolerance:.0%}")
            axis.set_ylabel("ticks per inference")
            axis.set_title("mean latency per window (board ticks)")
            axis.ticklabel_format(axis="y", style="plain", useOffset=False)
        else:
            axis.axhline(thresholds["psi"], color=DRIFT_COLOUR, linestyle="--",
                         label=f"PSI threshold {thresholds['psi']:g} (and p < {thresholds['p_value']:g})")
            axis.axhline(0.0, color=BASE_COLOUR, label="baseline (PSI 0)")
            axis.set_ylabel("PSI")
            axis.set_title(f"{HISTOGRAM_LABELS[name]}: PSI of each window against the baseline")
            top = max([thresholds["psi"] * 1.6, *values]) if values else thresholds["psi"] * 1.6
            axis.set_ylim(-0.02 * top, top * 1.08)
        axis.set_xlim(0, max(t for t, _ in windows) * 1.05 + 0.5)   # from the run's start
        axis.legend(fontsize=7, loc="best")
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds since the run started (red: drift in that window)")
    return _png(figure)


def histograms_png(total: dict | None, baseline: dict, kind: str) -> bytes | None:
    if not total or not total.get("count"):
        return None
    names = statistics_of(kind)
    figure, axes = _figure(len(names), row_height=2.2)
    for axis, name in zip(axes, names):
        base, seen = baseline.get(name) or [], total.get(name) or []
        if not base or len(base) != len(seen):
            continue
        base_total, seen_total = max(sum(base), 1), max(sum(seen), 1)
        positions = list(range(len(base)))
        axis.bar([p - 0.2 for p in positions], [b / base_total for b in base], width=0.4,
                 color=BASE_COLOUR, label="baseline (validation split)")
        axis.bar([p + 0.2 for p in positions], [s / seen_total for s in seen], width=0.4,
                 color=CALM_COLOUR, label="this run")
        axis.set_title(HISTOGRAM_LABELS[name])
        axis.set_ylabel("share")
        axis.set_xticks(positions)
        axis.tick_params(axis="x", labelsize=7)
        axis.legend(fontsize=7)
    axes[-1].set_xlabel("bin")
    return _png(figure)


def _run_total(records: list[dict]) -> dict | None:
    """The run's inferences as one snapshot: the sum of every reading's increase (across resets)."""
    from .snapshot import MonitorSnapshot
    total, previous = None, None
    for record in records:
        if record["type"] == "reset":
            previous = None
        if record["type"] != "reading":
            continue
        reading = MonitorSnapshot.from_json(record["snapshot"])
        step = reading.minus(previous) if previous is not None and previous.count <= reading.count else reading
        total = step if total is None else total.plus(step)
        previous = reading
    return total.to_json() if total is not None else None


def write_report(build_dir: Path, records: list[dict]) -> Path:
    """monitor.html (and its PNGs) of the run in `records` (one run's records, start first)."""
    build_dir = Path(build_dir)
    start = next(r for r in records if r["type"] == "start")
    end = next((r for r in records if r["type"] == "end"), None)
    images = {}
    total = _run_total(records)
    for name, png in ((SERIES_PNG, series_png(records, start)),
                      (HISTOGRAMS_PNG, histograms_png(total, start["baseline"]["stats"], start["kind"]))):
        if png is not None:
            write_bytes_atomic(build_dir / name, png)
            images[name] = name
        else:
            (build_dir / name).unlink(missing_ok=True)
    path = build_dir / files.MONITOR_REPORT
    write_text_atomic(path, page(records, start, end, images))
    return path


def page(records: list[dict], start: dict, end: dict | None, images: dict[str, str]) -> str:
    escape = html.escape
    windows = _windows(records)
    readings = [r for r in records if r["type"] == "reading"]
    resets = [r for r in records if r["type"] == "reset"]
    drifted = end["drifted"] if end else sorted({s for _, j in windows for s in j["drifted"]})
    verdict = (f'<p class="drift">DRIFT in {escape(", ".join(_label(s) for s in drifted))}</p>' if drifted
               else '<p class="calm">no drift</p>')
    replay = start.get("replay")
    rows = [("board", f"{start['board']} ({start['link']})"),
            ("started", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(start["time"]))),
            ("model kind", start["kind"]),
            ("baseline", f"{start['baseline']['samples']} samples of the {start['baseline']['split']} split"),
            ("replay", f"{replay['source']} ({replay['samples']} samples)" if replay else "none: read only"),
            ("readings", f"{len(readings)} (every {start['interval']:g} s), {len(windows)} windows judged"),
            ("inferences", f"{end['inferences']:,}" if end else "?"),
            ("resets seen", str(len(resets))),
            ("ended", escape(end["reason"]) if end and end.get("reason") else
             ("as asked" if end else "still running, or the host stopped without a word"))]
    thresholds = start["thresholds"]
    rows.append(("thresholds", f"PSI ≥ {thresholds['psi']:g} and chi-square p < {thresholds['p_value']:g}; "
                               f"saturated share +{thresholds['saturation_increase']:g}; latency "
                               f"±{thresholds['latency_tolerance']:.0%} of validation's mean; windows of "
                               f"≥ {thresholds['min_samples']} inferences"))
    summary = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v) if k != 'ended' else v}</td></tr>"
                      for k, v in rows)
    body = [verdict, f"<table>{summary}</table>"]
    if end and end.get("total"):
        body.append("<h2>The whole run as one window</h2>" + _findings_table([(None, end["total"])]))
    if SERIES_PNG in images:
        body.append(f'<h2>Each statistic over time</h2><img src="{images[SERIES_PNG]}" alt="time series">')
    if windows:
        body.append("<h2>Windows</h2>" + _findings_table(windows))
    if HISTOGRAMS_PNG in images:
        body.append(f'<h2>Histograms of the run against the baseline</h2>'
                    f'<img src="{images[HISTOGRAMS_PNG]}" alt="histograms">')
    if resets:
        body.append("<h2>Device resets</h2><ul>" + "".join(
            f"<li>at {r['elapsed']:.1f} s: count {r['before']:,} → {r['after']:,}</li>" for r in resets) + "</ul>")
    return html_document(f"tinyedge monitor: {start['board']}", "\n".join(body) + "\n", style=STYLE)


def _label(statistic: str) -> str:
    return HISTOGRAM_LABELS.get(statistic, {SATURATION: "saturated inputs", LATENCY: "latency"}.get(statistic, statistic))


def _findings_table(windows: list[tuple[float | None, dict]]) -> str:
    names = []
    for _, judgement in windows:
        names.extend(f["statistic"] for f in judgement["findings"] if f["statistic"] not in names)
    head = "<tr><th>at</th><th>inferences</th>" + "".join(f"<th>{html.escape(_label(n))}</th>" for n in names) + \
        "<th>verdict</th></tr>"
    lines = [head]
    for at, judgement in windows:
        cells = []
        for name in names:
            finding = _finding(judgement, name)
            if finding is None or finding["value"] is None:
                cells.append("<td></td>")
                continue
            cells.append(f'<td class="{"drift" if finding["drift"] else ""}">{html.escape(_cell(finding))}</td>')
        verdict = ('<td class="drift">DRIFT</td>' if judgement["drift"] else "<td>no drift</td>")
        when = "whole run" if at is None else f"{at:.1f} s"
        lines.append(f"<tr><td>{when}</td><td>{judgement['inferences']:,}</td>{''.join(cells)}{verdict}</tr>")
    return "<table>" + "\n".join(lines) + "</table>"


def _cell(finding: dict) -> str:
    if finding["statistic"] == SATURATION:
        return f"{finding['value']:.1%} (baseline {finding['baseline']:.1%})"
    if finding["statistic"] == LATENCY:
        return f"{finding['value']:,.0f} (validation {finding['baseline']:,.0f})"
    p = finding["p_value"]
    return f"PSI {finding['value']:.3f}, p {p:.2g}" if p is not None else f"PSI {finding['value']:.3f}"
