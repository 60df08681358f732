"""The files of a validation run: validation.json, report.html and its PNG plots (latency histogram,
confusion matrix, accuracy per stage of the build with the device's figure beside the host's).

Every file is written atomically. A partial run (the device failed part-way) writes the same set under
"-partial" names, so the last complete validation stays as it was.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

from ..buildfiles import validation_files as file_names
from ..htmlpage import html_document
from ..fileio import write_bytes_atomic, write_json_atomic, write_text_atomic


def write_outputs(result, partial: bool) -> dict[str, str]:
    """Writes the JSON, the plots and the HTML page into the build folder; returns their paths."""
    folder = result.build.path
    names = file_names(partial)
    plots = {}
    for kind, draw in (("latency", latency_png), ("confusion", confusion_png), ("stages", stages_png),
                       ("layers", _layers_png), ("memory", _memory_png)):
        png = draw(result)
        if png is not None:
            write_bytes_atomic(folder / names[kind], png)
            plots[kind] = names[kind]
        else:   # a plot an earlier run drew (e.g. with --layers) does not outlive its data
            (folder / names[kind]).unlink(missing_ok=True)
    result.files = {"json": str(folder / names["json"]), "report": str(folder / names["report"]),
                    "plots": [str(folder / name) for name in plots.values()]}
    data = result.to_json()
    write_json_atomic(folder / names["json"], data)
    write_text_atomic(folder / names["report"], html_page(data, plots))
    if not partial:  # a complete run supersedes what an earlier failed run left
        for name in file_names(True).values():
            (folder / name).unlink(missing_ok=True)
    return result.files


# ---- plots ---------------------------------------------------------------------------------------

def _figure(width: float = 6.4, height: float = 4.2):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, height), dpi=100)
    return figure, figure.subplots()


def _png(figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})  # same data, same bytes
    return buffer.getvalue()


def latency_axis_label(unit: str) -> str:
    if unit == "instructions":  # only an emulator counts instructions (-icount)
        return "instructions per inference (emulated: counted by QEMU, not time)"
    return {"cycles": "CPU cycles per inference", "us": "microseconds per inference"}.get(
        unit, f"{unit} per inference")


def latency_png(result) -> bytes | None:
    if not result.latencies:
        return None
    figure, axes = _figure()
    values = result.latencies
    distinct = len(set(values))
    axes.hist(values, bins=min(40, max(distinct, 1)), color="#4c72b0", edgecolor="white")
    latency = result.metrics.latency
    for value, style, name in ((latency.mean, "-", "mean"), (latency.median, "--", "median"),
                               (latency.p99, ":", "p99")):
        axes.axvline(value, color="#c44e52", linestyle=style, label=f"{name} {value:,.0f}")
    axes.set_xlabel(latency_axis_label(result.latency_unit))
    axes.set_ylabel("samples")
    axes.set_title(f"latency on {result.build.board.name} ({len(values)} inferences)")
    axes.ticklabel_format(axis="x", style="plain", useOffset=False)
    axes.legend(fontsize=8)
    return _png(figure)


def _layers_png(result) -> bytes | None:
    """validate --layers: the bar chart of time per layer (validation/profile.py draws it for bench too)."""
    if not getattr(result, "layers", None):
        return None
    from .profile import layers_png
    return layers_png(result.layers, f"time per layer on {result.build.board.name} (last sample)")


def _memory_png(result) -> bytes | None:
    if not getattr(result, "memory", None):
        return None
    from .profile import memory_png
    return memory_png(result.memory, f"memory map on {result.build.board.name}")


def _profile_html(data: dict, plots: dict[str, str]) -> str:
    """The per-layer section (validate --layers) and the memory map, as bench.html shows them."""
    from .profile import layers_html, memory_html
    parts = []
    if data.get("layers"):
        parts.append(layers_html(data["layers"], plots.get("layers")))
    if data.get("memory"):
        parts.append(memory_html(data["memory"], plots.get("memory")))
    return "\n".join(parts) + ("\n" if parts else "")


def confusion_png(result) -> bytes | None:
    matrix = result.metrics.confusion_matrix
    if not matrix:
        return None
    import numpy as np
    data = np.asarray(matrix)
    size = max(4.0, 0.45 * len(data) + 2.5)
    figure, axes = _figure(size + 1.0, size)
    image = axes.imshow(data, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    names = (result.class_names + [str(i) for i in range(len(result.class_names), len(data))])[:len(data)]
    axes.set_xticks(range(len(data)), names, rotation=45 if max(map(len, names)) > 2 else 0)
    axes.set_yticks(range(len(data)), names)
    axes.set_xlabel("predicted on the device")
    axes.set_ylabel("true class")
    threshold = data.max() / 2 if data.size else 0
    for row in range(len(data)):
        for column in range(len(data)):
            if data[row, column]:
                axes.text(column, row, str(data[row, column]), ha="center", va="center", fontsize=8,
                          color="white" if data[row, column] > threshold else "black")
    axes.set_title(f"confusion matrix on {result.build.board.name}")
    return _png(figure)


def stage_rows(result) -> list[tuple[str, float]]:
    """(label, value) per stage of the build, then TFLM on the host and the device on these samples."""
    metric = result.metrics.metric
    scale = 100.0 if metric == "accuracy" else 1.0
    rows = [(_stage_label(row), float(row.get("value", 0.0)) * scale)
            for row in result.build.stages if row.get("metric", metric) == metric]
    host = result.metrics.host_accuracy if metric == "accuracy" else result.metrics.host_mse
    device = result.metrics.device_accuracy if metric == "accuracy" else result.metrics.device_mse
    if host is not None:
        rows.append((f"host TFLM, {result.metrics.samples} samples", host * scale))
    if device is not None:
        rows.append((f"{result.build.board.name} device", device * scale))
    return rows


def _stage_label(row: dict) -> str:
    stage, kind = str(row.get("stage")), str(row.get("kind"))
    return stage if kind.lower() in stage.lower() else f"{stage} ({kind})"


def stages_png(result) -> bytes | None:
    rows = stage_rows(result)
    if not rows:
        return None
    figure, axes = _figure(7.0, 0.45 * len(rows) + 1.6)
    names = [name for name, _ in rows]
    values = [value for _, value in rows]
    colors = ["#8c8c8c"] * (len(rows) - 2) + ["#4c72b0", "#dd8452"] if len(rows) >= 2 else ["#4c72b0"]
    bars = axes.barh(range(len(rows)), values, color=colors[-len(rows):])
    axes.set_yticks(range(len(rows)), names)
    axes.invert_yaxis()
    accuracy = result.metrics.metric == "accuracy"
    for bar, value in zip(bars, values):
        axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                  f" {value:.2f}%" if accuracy else f" {value:.4g}", va="center", fontsize=8)
    if accuracy:
        low = min(values)
        axes.set_xlim(max(0.0, low - 10.0), 100.0 + (100.0 - max(0.0, low - 10.0)) * 0.12)
        axes.set_xlabel("accuracy (%)")
    else:
        axes.set_xlabel("mean squared error")
    axes.set_title("accuracy per stage of the build" if accuracy else "error per stage of the build")
    return _png(figure)


# ---- the page ------------------------------------------------------------------------------------

def _percent(value) -> str:
    return "–" if value is None else f"{value:.2%}"


def _number(value, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def _error(value) -> str:
    """A mean squared error: significant digits, since it is often far below 0.01."""
    return "–" if value is None else f"{value:.5g}"


def summary_rows(data: dict) -> list[tuple[str, str]]:
    latency = data.get("latency") or {}
    unit = latency.get("unit", "")
    rows = [("samples", f"{data['samples']} of {data['requested_samples']} requested "
                        f"({data['test_samples']} in the test split)")]
    if data.get("runtime"):
        rows.insert(0, ("runtime", f"{data['runtime']} ({data.get('runtime_reason') or 'as built'})"))
    if data["metric"] == "accuracy":
        rows += [("device accuracy", _percent(data["device_accuracy"])),
                 ("host TFLM accuracy", _percent(data["host_accuracy"]))]
    else:
        rows += [("device MSE", _error(data["device_mse"])), ("host TFLM MSE", _error(data["host_mse"]))]
    agreeing = data["samples"] - len(data["disagreeing_samples"])
    rows.append(("agreement", f"{_percent(data['agreement'])} ({agreeing} of {data['samples']} int8 outputs "
                              "identical to host TFLM)"))
    for model in data.get("further_models") or []:   # the firmware's other models, on random inputs
        rows.append((model["name"], f"{model['equal']}/{model['samples']} equal TFLM"))
    if latency:
        text = (f"mean {_number(latency['mean'], unit)}, median {_number(latency['median'], unit)}, "
                f"p99 {_number(latency['p99'], unit)}")
        if latency.get("microseconds"):
            us = latency["microseconds"]
            text += f" (mean {us['mean']:,.1f} µs, median {us['median']:,.1f} µs, p99 {us['p99']:,.1f} µs)"
        if unit == "instructions":
            text += " — emulated: instructions, not time"
        rows.append(("latency", text))
    rows.append(("firmware", f"flash {_number(data['flash_bytes'], 'B')}, RAM {_number(data['ram_bytes'], 'B')}"
                 if data["flash_bytes"] is not None else "flash and RAM unknown (no ELF in the build folder)"))
    from .debug import summary_row
    if summary_row(data.get("debug")):        # validate --debug's finding
        rows.append(summary_row(data["debug"]))
    if data.get("throughput_samples_per_second"):
        rows.append(("link throughput", f"{data['throughput_samples_per_second']:.1f} samples/s"))
    return rows


def _debug_html(data: dict) -> str:
    from .debug import html_section
    return html_section(data.get("debug"))


def html_page(data: dict, plots: dict[str, str]) -> str:
    escape = html.escape
    title = f"tinyedge validation: {data['model']['name']} on {data['board']}"
    status = ("complete" if data["complete"]
              else f"stopped early: {data['error']}")
    summary = "\n".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in summary_rows(data))
    figures = "\n".join(f'<figure><img src="{escape(name)}" alt="{escape(kind)}"><figcaption>{escape(caption)}'
                        f"</figcaption></figure>"
                        for kind, name, caption in (
                            ("latency", plots.get("latency"), "latency histogram"),
                            ("confusion", plots.get("confusion"), "confusion matrix (device)"),
                            ("stages", plots.get("stages"), "accuracy per stage of the build"))
                        if name)
    stages = "\n".join(
        f"<tr><td>{escape(str(row.get('stage')))}</td><td>{escape(str(row.get('kind')))}</td>"
        f"<td>{_percent(row.get('value')) if row.get('metric') == 'accuracy' else _error(row.get('value'))}"
        f"</td><td>{_number(row.get('params'))}</td><td>{_number(row.get('model_bytes'), 'B')}</td></tr>"
        for row in data.get("build_stages", []))
    mismatches = data["disagreeing_samples"]
    mismatch_text = ("none: every int8 output is identical to host TFLM" if not mismatches else
                     ", ".join(str(i) for i in mismatches[:50]) + (" …" if len(mismatches) > 50 else ""))
    return html_document(title, f"""<p class="status">{escape(status)}</p>
<p>Model {escape(data['model']['file'])} (sha256 {escape(data['model']['sha256'][:16])}), link {escape(data['link'])}.</p>
<table>{summary}</table>
{figures}
{_profile_html(data, plots)}<h2>Build stages</h2>
<table><tr><th>stage</th><th>kind</th><th>{escape(data['metric'])}</th><th>params</th><th>model</th></tr>
{stages}</table>
{_debug_html(data)}<h2>Samples whose int8 output differs from host TFLM</h2>
<p>{escape(mismatch_text)}</p>
<p>All figures: <a href="{escape(Path(data['json']).name)}">{escape(Path(data['json']).name)}</a>.</p>
""", width="60em",
                     style="figure { display: inline-block; margin: 1em 1em 1em 0; }\n.status { font-weight: bold; }\n")
