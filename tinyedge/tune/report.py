"""The results of `tinyedge tune` in the project's build folder, one writer each: tune.json (the study read
back from its storage: every trial's settings, measured figures, feasibility and reasons, stage table and
seconds; the Pareto front and the promoted default), tune.png (accuracy or error against latency on the
board, marker area by flash, the Pareto-optimal feasible trials joined and labelled, infeasible ones grey)
and tune.html (the picture, the Pareto front table, every trial's row and every trial's stage table).
All are written atomically and drawn with the plot helpers of tinyedge's other reports."""

from __future__ import annotations

import html
from pathlib import Path

from ..htmlpage import html_document
from ..fileio import write_bytes_atomic, write_json_atomic, write_text_atomic

JSON_FILE = "tune.json"
HTML_FILE = "tune.html"
PNG_FILE = "tune.png"

GREY, FEASIBLE, FRONT = "#b8b8b8", "#4c72b0", "#dd8452"


def _quality_name(data: dict) -> str:
    return "error" if "error" in data["objectives"] and "accuracy" not in data["objectives"] else \
        "accuracy" if any("accuracy" in (row.get("metrics") or {}) for row in data["trials"]) else "error"


def _quality(metrics: dict, name: str) -> float | None:
    value = metrics.get(name)
    return None if value is None else float(value)


def _measured(row: dict) -> bool:
    metrics = row.get("metrics") or {}
    return row.get("state") == "COMPLETE" and all(key in metrics for key in ("latency", "flash", "ram"))


def pareto_png(data: dict) -> bytes:
    """Accuracy (%) or error against latency in the board's unit; a marker's area is its flash."""
    from ..validation.report import _figure, _png, latency_axis_label
    name = _quality_name(data)
    rows = [row for row in data["trials"] if _measured(row) and _quality(row["metrics"], name) is not None]
    figure, axes = _figure(7.5, 4.8)
    flashes = [row["metrics"]["flash"] for row in rows] or [1]
    low, high = min(flashes), max(flashes)

    def area(flash: int) -> float:   # 40 .. 400 points², by flash between the smallest and the largest
        return 40.0 + 360.0 * ((flash - low) / (high - low) if high > low else 0.5)

    def point(row: dict) -> tuple[float, float]:
        value = _quality(row["metrics"], name)
        return float(row["metrics"]["latency"]), value * 100 if name == "accuracy" else value

    groups = (("infeasible (breaks a budget)", [r for r in rows if not r.get("feasible")], GREY),
              ("feasible", [r for r in rows if r.get("feasible") and r["number"] not in data["pareto"]], FEASIBLE),
              ("Pareto-optimal, feasible", [r for r in rows if r["number"] in data["pareto"]], FRONT))
    for label, members, colour in groups:
        if members:
            xs, ys = zip(*(point(row) for row in members))
            axes.scatter(xs, ys, s=[area(row["metrics"]["flash"]) for row in members], c=colour,
                         edgecolors="#333333" if colour == FRONT else "none",
                         linewidths=0.8, label=label, zorder=3 if colour == FRONT else 2)
    front = sorted((point(row) + (row["number"],) for row in rows if row["number"] in data["pareto"]))
    if len(front) > 1:
        axes.plot([x for x, _, _ in front], [y for _, y, _ in front], color=FRONT, linewidth=1, alpha=0.6,
                  zorder=1)
    for row in rows:
        x, y = point(row)
        best = " (best)" if row["number"] == data.get("best") else ""
        axes.annotate(f"{row['number']}{best}", (x, y), textcoords="offset points", xytext=(7, 4), fontsize=8,
                      color="#222222" if row.get("feasible") else "#888888")
    unit = rows[0]["metrics"]["unit"] if rows else "us"
    axes.set_xlabel(latency_axis_label(unit))
    axes.set_ylabel("accuracy (%, validation split, TFLM)" if name == "accuracy" else
                    "error (validation split, TFLM; lower is better)")
    from matplotlib.ticker import FuncFormatter
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axes.margins(x=0.1, y=0.1)   # room for the labels at the edges
    axes.set_title(f"study {data['study']} on {data['board']}: {len(rows)} measured trials "
                   f"(marker area: flash {low:,}..{high:,} B)", fontsize=10)
    axes.grid(True, alpha=0.3)
    if rows:
        legend = axes.legend(fontsize=8, loc="best")
        for handle in legend.legend_handles:   # one marker size in the legend (the area is the flash)
            handle.set_sizes([60])
    return _png(figure)


# ---- tables ---------------------------------------------------------------------------------------

def varying(rows: list[dict]) -> list[str]:
    """The trial parameters that differ between trials, in their order."""
    seen: dict[str, set] = {}
    for row in rows:
        for key, value in (row.get("params") or {}).items():
            seen.setdefault(key, set()).add(repr(value))
    return [key for key, values in seen.items() if len(values) > 1] or list(seen)


def _settings(row: dict, keys: list[str]) -> str:
    params = row.get("params") or {}
    return " ".join(f"{key}={params[key]}" for key in keys if key in params)


def _figures(row: dict, name: str) -> list[str]:
    metrics = row.get("metrics") or {}
    if not _measured(row):
        return ["–"] * 4
    value = _quality(metrics, name)
    quality = "–" if value is None else (f"{value:.2%}" if name == "accuracy" else f"{value:.5g}")
    return [quality, f"{metrics['latency']:,.0f} {metrics['unit']}", f"{metrics['flash']:,}", f"{metrics['ram']:,}"]


def _state(row: dict) -> str:
    if row.get("state") == "COMPLETE":
        return "feasible" if row.get("feasible") else "infeasible: " + "; ".join(row.get("reasons") or [])
    return f"{row.get('state', '').lower()}: " + "; ".join(row.get("reasons") or [row.get("error") or ""])


def stage_table_html(row: dict) -> str:
    stages = row.get("stages") or []
    if not stages:
        return "<p>no stage table (the trial did not finish its build)</p>"
    metric = stages[0].get("metric", "accuracy")
    body = []
    for stage in stages:
        value = f"{stage['value']:.2%}" if stage.get("metric") == "accuracy" else f"{stage['value']:.5f}"
        seconds = "cached" if stage.get("cached") else f"{stage['seconds']:.1f}"
        body.append(f"<tr><td>{html.escape(stage['stage'])}</td><td>{html.escape(stage['kind'])}</td>"
                    f"<td>{value}</td><td>{stage['params']:,}</td><td>{stage['model_bytes']:,}</td>"
                    f"<td>{stage['macs']:,}</td><td>{seconds}</td></tr>")
    seconds = row.get("seconds") or {}
    tail = (f"<p>build {seconds.get('build', 0):.1f} s, measurement on the board {seconds.get('measure', 0):.1f} s, "
            f"trial {seconds.get('trial', 0):.1f} s</p>") if seconds else ""
    return (f"<table class=\"stages\"><tr><th>stage</th><th>kind</th><th>{'accuracy' if metric == 'accuracy' else 'MSE'}"
            f"</th><th>params</th><th>model bytes</th><th>MACs</th><th>seconds</th></tr>\n" + "\n".join(body) +
            "</table>" + tail)


def tune_html(data: dict, image: str | None) -> str:
    escape = html.escape
    name = _quality_name(data)
    keys = varying(data["trials"])
    title = f"tinyedge tune: study {data['study']} on {data['board']}"
    header = (f"<tr><th>trial</th><th>settings</th><th>{escape(name)}</th><th>latency</th><th>flash B</th>"
              f"<th>RAM B</th>")

    def line(row: dict, last: str) -> str:
        mark = " class=\"front\"" if row["number"] in data["pareto"] else ""
        cells = "".join(f"<td>{escape(cell)}</td>" for cell in _figures(row, name))
        return (f"<tr{mark}><td><a href=\"#trial-{row['number']}\">{row['number']}</a></td>"
                f"<td>{escape(_settings(row, keys))}</td>{cells}<td>{escape(last)}</td></tr>")

    front = [row for row in data["trials"] if row["number"] in data["pareto"]]
    front_rows = "\n".join(line(row, "best (promoted by default)" if row["number"] == data.get("best") else "")
                           for row in front)
    every = "\n".join(line(row, _state(row)) for row in data["trials"])
    sections = "\n".join(
        f"<h3 id=\"trial-{row['number']}\">trial {row['number']} ({escape(_state(row))})</h3>\n"
        f"<p><code>{escape(_settings(row, list((row.get('params') or {}))))}</code>"
        + (f" — {escape(row['build_dir'])}" if row.get("build_dir") else "") + "</p>\n" + stage_table_html(row)
        for row in data["trials"])
    picture = (f'<figure><img src="{escape(image)}" alt="Pareto front"><figcaption>{escape(name)} against '
               f'latency on {escape(data["board"])}; marker area: flash; grey: infeasible</figcaption></figure>'
               if image else "")
    promoted = data.get("promoted")
    promoted_line = (f"<p>Promoted: trial {promoted['number']} (the project's build in "
                     f"<code>{escape(promoted['build_dir'])}</code>).</p>") if promoted else ""
    return html_document(title, f"""<p>{len(data['trials'])} trials in {escape(data['storage'])}; objectives {escape(', '.join(data['objectives']))}
({escape(', '.join(data['directions']))}); the budgets are the constraints. {len(data['pareto'])} Pareto-optimal
feasible trial(s); best: {data['best'] if data.get('best') is not None else 'none'}. Latency, flash and RAM are
measured on the board's target (flash and RAM from the ELF); {escape(name)} is TFLM's on the validation split.</p>
{promoted_line}
{picture}
<h2>Pareto front (feasible)</h2>
<table>{header}<th></th></tr>
{front_rows}</table>
<h2>Every trial</h2>
<table>{header}<th>state</th></tr>
{every}</table>
<h2>Stage tables</h2>
{sections}
<p>All figures: <a href="{JSON_FILE}">{JSON_FILE}</a>.</p>
""", width="72em",
                     style="td:nth-child(n+3) { text-align: right; }\ntd:last-child { text-align: left; }\ntr.front td { background: #fbeee4; }\n")


def write_tune_report(result, folder: str | Path, promoted: dict | None = None) -> list[str]:
    """tune.json, tune.png and tune.html of a TuneResult in `folder` (the project's build folder);
    `promoted` ({number, build_dir, settings}) when a trial was just made the project's build.
    Returns the paths written."""
    folder = Path(folder)
    data = result.to_json()
    if promoted is not None:
        data["promoted"] = promoted
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / JSON_FILE, data)
    write_bytes_atomic(folder / PNG_FILE, pareto_png(data))
    write_text_atomic(folder / HTML_FILE, tune_html(data, PNG_FILE))
    return [str(folder / JSON_FILE), str(folder / PNG_FILE), str(folder / HTML_FILE)]
