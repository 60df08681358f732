"""`tinyedge inspect MODEL.tflite [--board B] [--json]`: what is in a TFLite model and whether it fits."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..boards import Catalogue
from ..tflite import inspect as analysis
from ..tflite.model import load


def _kb(n: int | None) -> str:
    return "n/a" if n is None else f"{n:,} B ({n / 1024:.1f} KB)"


def runs_native(row: dict) -> str:
    return "yes" if row["native"] is None else f"no: {row['native']}"


def runs_tflm(row: dict) -> str:
    return f"yes ({row['tflm_method']})" if row["tflm"] is None else f"no: {row['tflm']}"


def _print(report: analysis.ModelReport, console: Console) -> None:
    console.print(f"[bold]{report.source}[/bold]: {report.model_bytes:,} bytes, "
                  f"{report.params:,} parameters, {report.macs:,} MACs")
    ops = Table(title="ops: which runtime runs each", title_justify="left")
    for column in ("op", "version", "count", "native", "TFLite Micro"):
        ops.add_column(column, overflow="fold")
    for row in report.ops:
        ops.add_row(row["op"], str(row["version"]), str(row["count"]), runs_native(row), runs_tflm(row))
    console.print(ops)
    if report.native_model:
        console.print(f"native: no for the model as a whole: {report.native_model}", markup=False)
    for warning in report.warnings:
        console.print(f"warning: {warning}", markup=False, style="yellow")
    layers = Table(title="layers", title_justify="left")
    for column in ("#", "op", "layer", "output", "params", "MACs"):
        layers.add_column(column, overflow="fold")
    for layer in report.layers:
        layers.add_row(str(layer.index), f"{layer.op} v{layer.version}", layer.layer,
                       "x".join(map(str, layer.output_shape)), f"{layer.params:,}", f"{layer.macs:,}")
    layers.add_row("", "total", "", "", f"{report.params:,}", f"{report.macs:,}")
    console.print(layers)
    tensors = Table(title="tensors", title_justify="left")
    for column in ("#", "name", "shape", "dtype", "bytes", "kind"):
        tensors.add_column(column, overflow="fold")
    for tensor in report.tensors:
        tensors.add_row(str(tensor.index), tensor.name.split(";")[0], "x".join(map(str, tensor.shape)),
                        tensor.dtype, f"{tensor.bytes:,}", "constant" if tensor.constant else "activation")
    console.print(tensors)
    for role, rows in (("input", report.inputs), ("output", report.outputs)):
        for io in rows:
            quant = (f"scale {io.scale:.9g}, zero point {io.zero_point}" if io.scale is not None
                     else "not quantized")
            console.print(f"{role} '{io.name}': {io.dtype} {list(io.shape)}, {quant}")
    console.print(f"arena: {_kb(report.arena_bytes)} — {report.arena_note}")
    console.print(f"largest activation: {_kb(report.activation_bytes)}")
    if report.problems:
        console.print(f"[red]not a fully int8 TFLite Micro model[/red] ({len(report.problems)} "
                      f"problem(s)):")
        for problem in report.problems:
            console.print(f"  - {problem}")
    else:
        console.print("int8 check: fully int8 (int8 I/O, int8 weights and activations, int32 biases), "
                      "every op and version supported by TFLite Micro")
    if report.fit:
        fit = report.fit
        if fit.fits:
            verdict = "[green]fits[/green]"
        elif fit.flash_margin >= 0 and fit.ram_margin >= 0:  # the figures fit; TFLM cannot run it
            verdict = f"[red]cannot run[/red]: TFLM allocates no arena for it ({report.arena_note})"
        else:
            verdict = "[red]does not fit[/red]"
        console.print(f"board {fit.board}, {fit.runtime} runtime: {verdict} (estimated before the compile; "
                      "after `tinyedge build` the ELF's figures are the ones that count)")
        console.print(f"  flash: needs about {_kb(fit.flash_needed)} of {_kb(fit.flash_available)}, "
                      f"margin {_kb(fit.flash_margin)}")
        console.print(f"  RAM:   needs about {_kb(fit.ram_needed)} of {_kb(fit.ram_available)}, "
                      f"margin {_kb(fit.ram_margin)}")
        console.print(f"  ({fit.estimate})", markup=False)


def run(model: Path, board: str | None = None, as_json: bool = False, runtime: str = "auto") -> None:
    target = Catalogue.load().get(board) if board else None  # a wrong board fails before any work
    parsed = load(model)
    report = analysis.analyse(parsed, str(model))
    if target:
        report.fit = analysis.board_fit(report, parsed, target, runtime)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print(report, Console(width=160))
