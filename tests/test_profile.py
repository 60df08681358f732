"""Profile on the host (issue 15): bench --samples against TFLM on many inputs, the memory map from the
linker's map file, bench --layers' per-layer table (host and emu-m4), the report's chart and table, and
its screenshot in headless Chromium.

Oracles: tflite_micro's outputs for the same inputs; the ELF's size (elfsize, as arm-none-eabi-size
counts) and the generator's own byte counts; the steps the generation made (GeneratedRuntime.steps);
the whole inference's ticks (te-ticks); PNG pixels."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "native"))
import native_model_zoo  # noqa: E402

from tinyedge import api  # noqa: E402
from tinyedge.boards import Catalogue  # noqa: E402


def _quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def cnn() -> Path:
    return native_model_zoo.small_cnn_model()


@pytest.fixture(scope="module")
def host_layers(cnn, tmp_path_factory):
    """bench --layers --samples 8 of the small CNN on the host target, with its build folder."""
    folder = tmp_path_factory.mktemp("bench-host")
    return api.measure("host", cnn, samples=8, layers=True, build_dir=folder), folder


def _tflm_outputs(model: Path, inputs: list[np.ndarray]) -> list[bytes]:
    from tflite_micro import runtime
    interpreter = runtime.Interpreter.from_bytes(model.read_bytes())
    outputs = []
    for values in inputs:
        interpreter.set_input(values, 0)
        interpreter.invoke()
        outputs.append(np.ascontiguousarray(interpreter.get_output(0)).tobytes())
    return outputs


def test_bench_samples_compares_every_output_with_tflm(host_layers, cnn):
    from tinyedge.bench import bench_inputs, compare_outputs
    from tinyedge.tflite.model import load

    result, _ = host_layers
    assert (result.samples, result.samples_equal, result.differing_samples) == (8, 8, [])
    assert result.bit_exact
    # The references are tflite_micro's own outputs for the seeded inputs bench sent.
    inputs = bench_inputs(load(cnn), None, 8)
    assert len({values.tobytes() for values in inputs}) == 8
    expected = _tflm_outputs(cnn, inputs)
    assert [bytes.fromhex(row["tflm"]) for row in result.sample_outputs] == expected
    device = [bytes.fromhex(row["device"]) for row in result.sample_outputs]
    # A deliberately wrong reference: the count drops by the outputs changed, through the same compare.
    wrong = [bytes([reference[0] ^ 1]) + reference[1:] if index in (1, 4, 6) else reference
             for index, reference in enumerate(expected)]
    agreement = compare_outputs(device, wrong)
    assert (agreement.equal, agreement.samples, agreement.differing, agreement.text) == (5, 8, [1, 4, 6],
                                                                                         "5/8 equal")


def test_bench_samples_refuses_zero():
    from tinyedge.errors import TinyedgeError
    with pytest.raises(TinyedgeError, match="--samples 0 is not a positive"):
        api.measure("host", "missing.tflite", samples=0)


def _assert_layer_table(table: dict, model: Path, runtime: str = "native") -> None:
    from tinyedge.codegen import generate
    from tinyedge.codegen.layer_names import short_layer_name
    from tinyedge.tflite.model import load

    parsed = load(model)
    steps = generate(parsed).steps
    assert [(row["step"], row["op"], row["layer"], tuple(row["shape"]), row["macs"]) for row in table["rows"]] == \
        [(step.index, step.opcode, step.layer, tuple(step.shape), step.macs) for step in steps]
    assert [row["layer"] for row in table["rows"]] == \
        [short_layer_name(parsed.main.tensors[step.output_tensor].name) for step in steps]
    assert sum(row["time"] for row in table["rows"]) == table["sum"]
    assert all(row["time"] >= 0 for row in table["rows"]) and table["sum"] > 0
    assert abs(table["sum"] - table["whole"]) <= max(0.02 * table["whole"], 2 * (40 if table["unit"] ==
                                                                                   "instructions" else 1))
    assert abs(sum(row["share"] for row in table["rows"]) - 1.0) < 1e-4


def test_bench_layers_on_the_host_target(host_layers, cnn):
    result, _ = host_layers
    _assert_layer_table(result.layers, cnn)
    assert result.layers["unit"] == "us"


def test_memory_map_adds_up_to_the_elf(host_layers, cnn):
    from tinyedge.codegen import generate
    from tinyedge.elfsize import read_elf_size
    from tinyedge.memory_map import read_memory_map
    from tinyedge.tflite.model import load

    _, folder = host_layers
    elf = folder / "firmware" / "build" / "firmware.elf"
    memory = read_memory_map(elf, project=folder / "firmware", board=Catalogue.load().get("host"))
    size = read_elf_size(elf)
    assert sum(memory.flash.values()) == size.flash_bytes == memory.flash_bytes
    assert sum(memory.ram.values()) == size.ram_bytes == memory.ram_bytes
    generated = generate(load(cnn))
    assert memory.flash["weights"] == generated.weights_bytes     # the generator's own count
    assert memory.ram["arena"] == generated.arena_bytes
    assert memory.ram["io"] >= generated.io_bytes
    assert memory.flash["kernels"] > 0 and memory.flash["protocol"] > 0 and memory.flash["model_code"] > 0


def test_the_memory_map_of_a_validation_draws_the_budgets_beside_the_boards_limits(host_layers, tmp_path):
    """budgets.max_flash / max_ram, as the build's report.json records them, reach validate's memory map:
    one line each beside the board's, in the JSON and among the lines the picture draws."""
    from tinyedge.elfsize import read_elf_size
    from tinyedge.memory_map import memory_png, picture_lines
    from tinyedge.pipeline.report import read_build_report, write_build_report
    from tinyedge.validation import BuildFolder
    from tinyedge.validation.runner import _memory_map

    _, folder = host_layers
    elf = folder / "firmware" / "build" / "firmware.elf"
    size = read_elf_size(elf)
    budgets = {"max_flash": size.flash_bytes * 2, "max_ram": size.ram_bytes + 4096}
    written = write_build_report(tmp_path / "report.json", "cnn on host", {}, [], None, {**budgets, "min_accuracy": 0.9})
    assert read_build_report(tmp_path / "report.json")["budgets"] == written["budgets"] == budgets
    board = Catalogue.load().get("host")
    build = BuildFolder(board, folder, "cnn", b"", {"budgets": budgets})
    unrecorded = BuildFolder(board, folder, "cnn", b"", {})     # a build folder from before: no budgets
    assert build.budgets == budgets and unrecorded.budgets == {"max_flash": 0, "max_ram": 0}
    memory = _memory_map(elf, build)
    assert memory["limit_lines"] == {
        "flash": [{"bytes": board.flash_bytes, "name": "the flash of host", "kind": "board"},
                  {"bytes": budgets["max_flash"], "name": "budgets.max_flash", "kind": "budget"}],
        "ram": [{"bytes": board.ram_bytes, "name": "the RAM of host", "kind": "board"},
                {"bytes": budgets["max_ram"], "name": "budgets.max_ram", "kind": "budget"}]}
    assert (memory["flash_limit"], memory["flash_limit_name"]) == (budgets["max_flash"], "budgets.max_flash")
    flash, ram = picture_lines(memory)     # the host's 1 GiB stays off the scale, the budgets are drawn
    assert [line["name"] for line in flash] == ["budgets.max_flash"]
    assert [line["name"] for line in ram] == ["budgets.max_ram"]
    assert memory_png(memory).startswith(b"\x89PNG")
    unset = _memory_map(elf, unrecorded)
    assert [line["kind"] for line in unset["limit_lines"]["flash"]] == ["board"]


def test_bench_report_has_the_chart_and_the_table(host_layers):
    result, folder = host_layers
    page = (folder / "bench.html").read_text()
    assert '<img src="bench-layers.png"' in page and '<table class="layers">' in page
    assert '<img src="bench-memory.png"' in page and "Memory map" in page
    for row in result.layers["rows"]:
        assert f"<td>{row['layer']}</td>" in page
    assert "sum of the steps" in page and "8/8 equal" in page
    for name in ("bench-layers.png", "bench-memory.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((folder / "bench.json").read_text())["layers"] == result.layers


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no headless Chromium (apt-get install chromium)")
def test_screenshot_renders_the_report(host_layers, tmp_path):
    from PIL import Image

    from tinyedge.screenshot import screenshot
    _, folder = host_layers
    png = screenshot(folder / "bench.html", tmp_path / "bench.png", width=1000, height=1600)
    image = np.asarray(Image.open(png).convert("RGB"))
    assert image.shape[:2] == (1600, 1000)
    # Not blank: many colours, and the chart's blue bars (#4c72b0) are on the page.
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50
    assert (np.abs(image.astype(int) - (0x4c, 0x72, 0xb0)).sum(axis=2) < 30).sum() > 500


@pytest.mark.emulated
def test_bench_layers_on_emu_m4(cnn, tmp_path):
    from tinyedge.codegen import generate
    from tinyedge.elfsize import read_elf_size
    from tinyedge.memory_map import read_memory_map
    from tinyedge.tflite.model import load

    result = api.measure("emu-m4", cnn, samples=8, layers=True, build_dir=tmp_path)
    assert (result.samples_equal, result.samples) == (8, 8)
    assert result.layers["unit"] == "instructions"
    _assert_layer_table(result.layers, cnn)
    elf = next(tmp_path.glob("firmware/.pio/build/*/firmware.elf"))
    memory = read_memory_map(elf, project=tmp_path / "firmware")
    size = read_elf_size(elf)
    assert sum(memory.flash.values()) == size.flash_bytes
    assert sum(memory.ram.values()) == size.ram_bytes
    assert memory.flash["weights"] == generate(load(cnn)).weights_bytes
    assert memory.ram["stack"] == size.stack_bytes
    assert result.memory == memory.to_json() | {"flash_limit": result.memory["flash_limit"],
                                                 "ram_limit": result.memory["ram_limit"],
                                                 "flash_limit_name": result.memory["flash_limit_name"],
                                                 "ram_limit_name": result.memory["ram_limit_name"],
                                                 "limit_lines": result.memory["limit_lines"]}


def test_validate_layers_on_the_host_target(tmp_path):
    """validate --layers: the layer build's last sample timed step by step, in validation.json and
    report.html (chart and table), with the memory map; agreement with TFLM is unchanged."""
    from tinyedge import buildfiles
    from tinyedge.elfsize import read_elf_size
    from tinyedge.pipeline.firmware_stage import record_of
    from tinyedge.project import build_firmware
    from tinyedge.targets import for_board
    from tinyedge.tflite.model import load
    from tinyedge.validation import BuildFolder, validate

    board = Catalogue.load().get("host")
    if for_board(board).missing_toolchain():
        pytest.skip(for_board(board).missing_toolchain())
    digits, inputs, labels = native_model_zoo.digits_model()
    built = build_firmware(board, digits, tmp_path, runtime="native", name="digits", layers=True,
                           console=_quiet)
    quant = load(digits).main.input_tensors()[0].quantization
    x = (inputs[:6].astype(np.float32) - quant.zero_point[0]) * quant.scale[0]   # the int8 inputs again
    np.savez(tmp_path / buildfiles.TEST_DATA, x=x, y=labels[:6])
    folder = BuildFolder(board, tmp_path, "digits", digits.read_bytes(), {"firmware": record_of(built, tmp_path)})
    with for_board(board).link(built.elf, None) as link:
        result = validate(folder, link, 6, progress=lambda done: None, layers=True)
    assert result.complete and result.metrics.agreement == 1.0
    _assert_layer_table(result.layers, digits)
    data = json.loads(Path(result.files["json"]).read_text())
    assert data["layers"] == result.layers
    assert sum(data["memory"]["flash"].values()) == read_elf_size(built.elf).flash_bytes
    html = Path(result.files["report"]).read_text()
    assert "report-layers.png" in html and "report-memory.png" in html
    assert all(row["layer"] in html for row in result.layers["rows"])
