"""`tinyedge inspect`: MACs, params, arena and board fit of the MLPerf Tiny models; damaged files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tinyedge.boards import Catalogue
from tinyedge.tflite import inspect as analysis
from tinyedge.tflite.model import load

MLPERF = {  # model file -> MACs (MLPerf Tiny's published figures)
    "kws_ref_model.tflite": 2_656_768,
    "vww_96_int8.tflite": 7_489_664,
    "pretrainedResnet_quant.tflite": 12_501_632,
    "ad01_int8.tflite": 264_192,
}


def inspect_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyedge", "inspect", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("name", sorted(MLPERF))
def test_macs_of_the_mlperf_tiny_models(shared_dir, name):
    report = analysis.analyse(load(shared_dir / "models" / "mlperf-tiny" / name), name,
                              with_arena=False)
    assert report.macs == MLPERF[name]
    assert report.macs == sum(layer.macs for layer in report.layers)
    assert report.problems == []
    assert report.inputs[0].dtype == "int8" and report.outputs[0].dtype == "int8"


def test_json_output_with_board_fit(shared_dir):
    path = shared_dir / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
    result = inspect_cli(str(path), "--board", "nano33", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    reference = json.loads((shared_dir / "reference" / "tflm-emulated-m4.json").read_text())
    kws = reference["models"]["kws"]
    assert report["macs"] == 2_656_768
    assert report["model_bytes"] == kws["model_bytes"] == path.stat().st_size
    assert report["params"] == 22_604
    # The host interpreter is 64-bit: its arena is a safe upper bound of the 32-bit device's.
    assert kws["reference"]["arena_min_bytes"] <= report["arena_bytes"] < 1.1 * kws["reference"]["arena_min_bytes"]
    assert {(row["op"], row["version"]) for row in report["ops"]} == {
        ("AVERAGE_POOL_2D", 2), ("CONV_2D", 3), ("DEPTHWISE_CONV_2D", 3), ("FULLY_CONNECTED", 4),
        ("RESHAPE", 1), ("SOFTMAX", 2)}
    assert all(row["tflm"] is None for row in report["ops"])
    # The fit is the estimate of the runtime `build` would choose (native here), labelled as such
    # (the estimate itself is checked against the ELF in test_footprint.py).
    fit = report["fit"]
    board = Catalogue.load().get("nano33")
    assert fit["runtime"] == "native" and fit["source"] == "estimate"
    assert "generated arrays" in fit["estimate"] and "framework" in fit["estimate"]
    # Native kws: the generated arrays (about 56.7 KB) and kernels, far below TFLM + CMSIS-NN's figure.
    assert 56_000 < fit["flash_needed"] < kws["cmsis-nn"]["flash_bytes"]
    assert fit["flash_margin"] == board.flash_bytes - fit["flash_needed"]
    assert fit["ram_margin"] == board.ram_bytes - fit["ram_needed"]
    assert fit["fits"] is True
    assert report["inputs"][0]["dtype"] == "int8" and report["inputs"][0]["scale"] > 0


def test_the_tflm_estimate_is_shown_for_the_tflm_runtime(shared_dir):
    path = shared_dir / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
    result = inspect_cli(str(path), "--board", "nano33", "--runtime", "tflm")
    assert result.returncode == 0, result.stderr
    assert "board nano33, tflm runtime: fits (estimated before the compile" in result.stdout
    assert "TFLM with 6 reference kernel(s)" in result.stdout
    report = json.loads(inspect_cli(str(path), "--board", "nano33", "--runtime", "tflm", "--json").stdout)
    reference = json.loads((shared_dir / "reference" / "tflm-emulated-m4.json").read_text())["models"]["kws"]
    # A lower bound: below what TFLM with its reference kernels measured in a smaller firmware.
    assert report["fit"]["runtime"] == "tflm"
    assert report["model_bytes"] < report["fit"]["flash_needed"] <= reference["reference"]["flash_bytes"] + 12_000


def test_table_output(shared_dir):
    result = inspect_cli(str(shared_dir / "models" / "mlperf-tiny" / "ad01_int8.tflite"))
    assert result.returncode == 0, result.stderr
    assert "264,192 MACs" in result.stdout
    assert "arena: " in result.stdout and "int8 check: fully int8" in result.stdout


def test_truncated_file_is_one_line(shared_dir, tmp_path):
    damaged = tmp_path / "cut.tflite"
    damaged.write_bytes((shared_dir / "models" / "mlperf-tiny" / "kws_ref_model.tflite").read_bytes()[:1000])
    result = inspect_cli(str(damaged))
    assert result.returncode == 1
    assert result.stderr == (f"error: {damaged} is a damaged TFLite model (its flatbuffer does not decode) "
                             "(the file is truncated or corrupt; export it again)\n")


def test_file_that_is_not_tflite_is_one_line(tmp_path):
    other = tmp_path / "notes.tflite"
    other.write_bytes(b"these are not the bytes of a model")
    result = inspect_cli(str(other))
    assert result.returncode == 1
    assert result.stderr == (f"error: {other} is not a TFLite model (no 'TFL3' identifier) "
                             "(pass a .tflite file written by the TFLite converter)\n")


def test_unknown_board_is_one_line(shared_dir):
    result = inspect_cli(str(shared_dir / "models" / "mlperf-tiny" / "ad01_int8.tflite"),
                         "--board", "nano34")
    assert result.returncode == 1
    assert result.stderr == ("error: unknown board 'nano34' (did you mean 'nano33'?) "
                             "('tinyedge boards' lists the boards)\n")
