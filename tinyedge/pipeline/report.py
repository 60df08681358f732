"""The stage table: one row per stage (teacher float, student float, each compression step, int8 on
TFLM) with accuracy, parameters, model bytes and MACs; printed, plotted, and written to report.json
(this module is report.json's one writer, `write_build_report`, and its one reader, `read_build_report`)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.table import Table

from .. import __version__
from ..fileio import write_bytes_atomic, write_json_atomic

METRIC_NAMES = {"accuracy": "accuracy", "mse": "MSE"}
METRIC_DESCRIPTIONS = {
    "accuracy": "share of test samples whose largest output is the true class (int8: TFLM's int8 "
                "outputs on the host)",
    "mse": "mean squared error of the outputs against the targets over the test split, in the float "
           "domain (int8: TFLM's int8 outputs on the host, dequantized with the output scale and zero "
           "point); lower is better",
}


@dataclass
class StageRow:
    stage: str
    kind: str                # "float" (Keras) or "int8" (TFLM on the host)
    metric: str              # "accuracy" or "mse"
    value: float
    params: int
    model_bytes: int
    macs: int
    seconds: float
    cached: bool

    def to_json(self) -> dict:
        return asdict(self)


def table(rows: list[StageRow], title: str, notes: list[str] | None = None) -> Table:
    """The stage table; `notes` (the firmware's arena plan...) go under it, after the metric's meaning."""
    metric = rows[0].metric if rows else "accuracy"
    lines = [f"MSE: {METRIC_DESCRIPTIONS['mse']}"] if metric == "mse" else []
    lines += [note for note in notes or [] if note]
    caption = "\n".join(lines) or None
    grid = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column in ("stage", "kind", METRIC_NAMES.get(metric, metric), "params", "model bytes",
                   "MACs", "seconds"):
        grid.add_column(column, justify="left" if column in ("stage", "kind") else "right")
    for row in rows:
        value = f"{row.value:.2%}" if row.metric == "accuracy" else f"{row.value:.5f}"
        grid.add_row(row.stage, row.kind, value, f"{row.params:,}", f"{row.model_bytes:,}",
                     f"{row.macs:,}", "cached" if row.cached else f"{row.seconds:.1f}")
    return grid


def plot_png(rows: list[StageRow], title: str) -> bytes:
    """Accuracy (or MSE) against model size, one labelled point per stage."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    figure = Figure(figsize=(7, 4.5), dpi=100)
    axes = figure.subplots()
    for row in rows:
        marker = "s" if row.kind == "int8" else "o"
        value = row.value * 100 if row.metric == "accuracy" else row.value
        axes.scatter(row.model_bytes, value, marker=marker, s=50)
        axes.annotate(row.stage, (row.model_bytes, value), textcoords="offset points",
                      xytext=(6, 4), fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("model bytes (float32 weights for float stages, .tflite for int8)")
    axes.set_ylabel("accuracy (%)" if rows and rows[0].metric == "accuracy" else
                    "mean squared error (lower is better)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    # Fixed metadata keeps the PNG byte-identical for identical rows (so it can be cached by hash).
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def rows_hash(rows: list[StageRow], title: str) -> str:
    text = json.dumps([title, [(r.stage, r.kind, r.value, r.params, r.model_bytes, r.macs)
                               for r in rows]])
    return hashlib.sha256(text.encode()).hexdigest()


def write_plot(path: Path, rows: list[StageRow], title: str) -> None:
    write_bytes_atomic(path, plot_png(rows, title))


def write_build_report(path: Path, title: str, result: dict, rows: list[StageRow],
                       firmware: dict | None, budgets: dict | None = None) -> dict:
    """report.json: the build's figures, its stage rows, the flash and RAM budgets (budgets.max_flash /
    max_ram, 0 when unset: validate's memory map draws them) and (once the firmware stage ran) the
    firmware's project, ELF, flash and RAM. Returns what was written."""
    data = {"tinyedge_version": __version__, "title": title, **result,
            "stages": [row.to_json() for row in rows]}
    if budgets is not None:
        data["budgets"] = {key: int(budgets.get(key) or 0) for key in ("max_flash", "max_ram")}
    if firmware is not None:
        data["firmware"] = firmware
    write_json_atomic(path, data)
    return data


def read_build_report(path: Path) -> dict:
    """A build's report.json, or {} when it is missing or unreadable (it is made again by the next build)."""
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}
