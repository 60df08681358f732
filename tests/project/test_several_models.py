"""Several models in one firmware, sharing one arena, and the placement of the generated data.

- tinyedge.toml's [[model]] list and `build --model`: each mistake is one line naming the entry or file.
- The rendered project: every model's own <prefix>_model.c/.h, one copy of each kernel, an adapter with
  one protocol entry per model, one arena the size of the largest (a chain of the headers' macros).
- Over the host target's firmware (fast): te-models / te-select, an unknown name, and each model
  bit-exact with tflite_micro.
- emu-m4 (emulated): the built-in example's digits CNN with the MLPerf Tiny AD model (../shared; a
  test-made second model where it is absent) in one firmware, each bit-exact with tflite_micro over the
  protocol, and the firmware's RAM (ELF) below the two single-model firmwares' together, its shared arena
  (ELF symbol) the larger arena, not the sum; [placement] sections where readelf says they are.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyedge
from tinyedge import config
from tinyedge.boards import Catalogue
from tinyedge.errors import TinyedgeError
from tinyedge.project import build_firmware, make_bundle, plan_project, render_project
from tinyedge.project.bundle import further_bundle
from tinyedge.targets import for_board

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "native"))

import native_model_zoo  # noqa: E402

CATALOGUE = Catalogue.load()
AD01 = Path(tinyedge.__file__).parents[2] / "shared" / "models" / "mlperf-tiny" / "ad01_int8.tflite"


@pytest.fixture(scope="module")
def digits() -> Path:
    return native_model_zoo.digits_model()[0]


@pytest.fixture(scope="module")
def second() -> Path:
    """A second test-made model (conv, depthwise, residual add, poolings, dense, softmax)."""
    return native_model_zoo.small_cnn_model()


def _error(call) -> str:
    with pytest.raises(TinyedgeError) as info:
        call()
    return info.value.one_line()


# ---- tinyedge.toml and --model -------------------------------------------------------------------

def test_a_model_entry_without_path_is_one_line(tmp_path):
    (tmp_path / "tinyedge.toml").write_text('[[model]]\nname = "ad01"\n')
    assert _error(lambda: config.load(tmp_path / "tinyedge.toml")) == (
        "tinyedge.toml: [[model]] entry 1 has no 'path' (give path = \"<file>.tflite\", the int8 model "
        "relative to the project)")
    (tmp_path / "tinyedge.toml").write_text('[[model]]\npath = "a.tflite"\npaht = "b"\n')
    assert _error(lambda: config.load(tmp_path / "tinyedge.toml")) == (
        "tinyedge.toml: unknown key 'paht' in [[model]] entry 1 (did you mean 'path'?) (keys of [[model]] "
        "are name, path)")
    (tmp_path / "tinyedge.toml").write_text('model = "a.tflite"\n')
    assert _error(lambda: config.load(tmp_path / "tinyedge.toml")).startswith(
        "tinyedge.toml: 'model' must be an array of tables [[model]]")


def test_model_entries_resolve_from_the_project_and_default_their_name(tmp_path):
    from tinyedge.pipeline.firmware_stage import further_models
    (tmp_path / "tinyedge.toml").write_text('[[model]]\npath = "models/ad01.tflite"\n'
                                            '[[model]]\nname = "kws"\npath = "/abs/k.tflite"\n')
    loaded = config.load(tmp_path / "tinyedge.toml")
    assert loaded.models == [{"name": "ad01", "path": "models/ad01.tflite"},
                             {"name": "kws", "path": "/abs/k.tflite"}]
    assert further_models(loaded) == [("ad01", tmp_path / "models" / "ad01.tflite"),
                                      ("kws", Path("/abs/k.tflite"))]


# validate builds the firmware it runs, so it takes the same --model list as build.
@pytest.mark.parametrize("verb", ["build", "validate"])
def test_repeated_model_options_add_to_the_project_list(tmp_path, monkeypatch, verb):
    from tinyedge import api, cli
    (tmp_path / "tinyedge.toml").write_text('[[model]]\npath = "first.tflite"\n')
    opened = {}

    def stop(project, **_):
        opened["models"] = project.config.models
        raise TinyedgeError("stopped here")

    monkeypatch.setattr(api, verb, stop)
    monkeypatch.chdir(tmp_path)
    assert cli.main([verb, "--board", "host", "--dir", str(tmp_path), "--model", "ad01=x/ad.tflite",
                     "--model", "y.tflite"]) == 1
    assert opened["models"] == [{"name": "first", "path": "first.tflite"},
                                {"name": "ad01", "path": str(tmp_path / "x" / "ad.tflite")},
                                {"name": "y", "path": str(tmp_path / "y.tflite")}]
    assert _error(lambda: config.defaults().with_models(["ad01="])) == (
        "--model ad01= has no 'path' (give path = \"<file>.tflite\", the int8 model relative to the project)")


def test_init_file_loads_with_and_without_its_commented_model_example(tmp_path):
    text = config.commented_file()
    assert "# [[model]]\n" in text and "[placement]\n" in text
    (tmp_path / "tinyedge.toml").write_text(text)
    assert config.load(tmp_path / "tinyedge.toml").as_dict() == config.defaults().as_dict()
    example = re.sub(r"^# (\[\[model\]\]|name = .*|path = .*)$", r"\1", text, flags=re.MULTILINE)
    (tmp_path / "tinyedge.toml").write_text(example)
    assert config.load(tmp_path / "tinyedge.toml").models == [{"name": "ad01", "path": "ad01.tflite"}]


def test_further_models_and_placement_are_in_the_firmware_stage_key(tmp_path, digits, second):
    from tinyedge.pipeline.firmware_stage import settings
    board = CATALOGUE.get("host")
    model = tmp_path / "ad01.tflite"
    model.write_bytes(second.read_bytes())
    (tmp_path / "tinyedge.toml").write_text('[[model]]\npath = "ad01.tflite"\n[placement]\narena = "caller"\n')
    loaded = config.load(tmp_path / "tinyedge.toml")
    before = settings(loaded, board, digits, [], None)
    assert before["placement"]["arena"] == "caller" and before["models"][0]["name"] == "ad01"
    model.write_bytes(digits.read_bytes())   # the same path, another model: another key
    assert settings(loaded, board, digits, [], None)["models"] != before["models"]


def test_placement_sections_are_checked():
    assert _error(lambda: config.defaults().with_overrides({"placement.arena_section": "bad name"})) == (
        "option for placement.arena_section: 'placement.arena_section' is 'bad name', not a linker "
        "section name (use letters, digits, '_', '.' and '$', e.g. '.te_weights')")
    assert _error(lambda: config.defaults().with_overrides({"placement.arena": "heap"})).startswith(
        "option for placement.arena: 'placement.arena' is 'heap'")


def test_a_missing_file_a_float_model_and_a_duplicate_name_are_one_line(tmp_path, digits):
    board = CATALOGUE.get("host")
    missing = tmp_path / "ad01.tflite"

    def build(models):
        return build_firmware(board, digits, tmp_path / "build", runtime="native", name="digits",
                              models=models, compile=False, console=lambda line: None)

    assert _error(lambda: build([("ad01", missing)])) == (
        f"model 'ad01': {missing} does not exist (fix its path in [[model]] (relative to the project) "
        "or in --model)")
    float_model = native_model_zoo.float_model()
    message = _error(lambda: build([("float", float_model)]))
    assert message.startswith(f"model 'float' ({float_model}): float operator FULLY_CONNECTED left "
                              "(float32 tensor '") and "\n" not in message
    assert message.endswith("(quantize the model fully to int8 with a representative dataset "
                            "(supported_ops=TFLITE_BUILTINS_INT8), as 'tinyedge build' does)")
    assert _error(lambda: build([("digits", digits)])) == (
        "two models of the firmware are named 'digits' (give each [[model]] (or --model NAME=PATH) its "
        "own name)")
    # tinyedge's own prefixes (te_, tinyedge_) get "m_" in front, which another name may already have
    assert _error(lambda: build([("te", digits), ("m_te", digits)])) == (
        "the models 'te' and 'm_te' both get the C prefix m_te (give each [[model]] (or --model "
        "NAME=PATH) its own name)")


def test_several_models_need_the_native_runtime(digits, second):
    bundle = make_bundle(digits.read_bytes(), "digits")
    assert _error(lambda: plan_project(bundle, CATALOGUE.get("emu-m4"), "platformio", "tflm",
                                       further=[further_bundle(second, "small")])) == (
        "2 models in one firmware need the native runtime, but the tflm runtime was chosen (tflm was "
        "requested) (set runtime.kind = \"native\" (or --runtime native), or remove the "
        "[[model]] entries and --model options)")


# ---- the rendered project ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_model_plan(digits, second):
    bundle = make_bundle(digits.read_bytes(), "digits")
    plan = plan_project(bundle, CATALOGUE.get("host"), "platformio", "native",
                        further=[further_bundle(second, "small")])
    return bundle, plan


def test_two_models_render_each_model_once_and_each_kernel_once(two_model_plan):
    bundle, plan = two_model_plan
    files = render_project(bundle, CATALOGUE.get("host"), plan)
    assert {"native/digits_model.c", "native/digits_model.h", "native/small_model.c",
            "native/small_model.h"} <= set(files)
    kernels = {Path(source).name for native in (plan.native, plan.further[0].native)
               for source in native.kernel_sources}
    assert {Path(path).name for path in files if path.startswith("native/te_")} == \
        {name for name in kernels if name.startswith("te_")}
    adapter = files["src/te_adapter.c"]
    assert adapter.count("TE_MODEL_ENTRY(") == 2
    assert "TE_MODEL_TABLE(&digits_te_entry, &small_te_entry);" in adapter
    runtime = files["src/tinyedge_runtime.c"]
    assert "#define TINYEDGE_SHARED_ARENA_BYTES TINYEDGE_LARGER_(DIGITS_ARENA_SIZE, SMALL_ARENA_SIZE)" in runtime
    assert "TINYEDGE_ARENA_FROM_CALLER" in files["native/tinyedge_config.h"]
    assert plan.arena_bytes == max(plan.native.arena_bytes, plan.further[0].native.arena_bytes)
    assert plan.arena_plan(bundle) == (
        f"arena: one {plan.arena_bytes:,} B buffer shared by digits ({plan.native.arena_bytes:,} B) and "
        f"small ({plan.further[0].native.arena_bytes:,} B)")


def _symbol_sizes(elf: Path, nm: str = "nm") -> dict[str, int]:
    """Symbol -> size from the ELF's symbol table (nm -S), local symbols included."""
    listed = subprocess.run([nm, "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in listed.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


def _tflm_outputs(model: Path, inputs: np.ndarray) -> list[bytes]:
    from tinyedge.tflite.tflm import TflmRunner
    runner = TflmRunner(model.read_bytes())
    return [np.ascontiguousarray(runner.run(sample[None])[0]).tobytes() for sample in inputs]


def _random_inputs(model: Path, count: int, seed: int) -> np.ndarray:
    from tinyedge.tflite.tflm import TflmRunner
    shape = TflmRunner(model.read_bytes()).input.shape[1:]
    return np.random.default_rng(seed).integers(-128, 128, size=(count, *shape), dtype=np.int8)


def _check_models_over_protocol(board, built, models: dict[str, Path], count: int) -> None:
    """Each model selected in turn, `count` seeded random inputs, every output byte equal to TFLM's."""
    from tinyedge.device.errors import DeviceError
    from tinyedge.device.protocol import DeviceClient

    target = for_board(board)
    with target.open_transport(built.elf, target.install(built.project, None)) as transport:
        client = DeviceClient(transport, infer_timeout=120)
        client.connect()
        assert client.models() == list(models)
        assert client.model_identity().name == next(iter(models))   # the first at boot
        with pytest.raises(DeviceError) as unknown:
            client.select("nothere")
        assert f"e-[te-select: unknown model 'nothere'; the firmware has {','.join(models)}]" in \
            unknown.value.message
        for seed, (name, path) in enumerate(models.items()):
            identity = client.select(name)
            assert identity.name == name
            inputs = _random_inputs(path, count, seed)
            for sample, expected in zip(inputs, _tflm_outputs(path, inputs)):
                client.output_bytes = len(expected)
                assert client.run_sample(sample.tobytes()).output == expected, name


def test_two_models_over_the_host_target(tmp_path, digits, second):
    """te-models, te-select (an unknown name too) and both models bit-exact over the protocol (host)."""
    board = CATALOGUE.get("host")
    if for_board(board).missing_toolchain():
        pytest.skip(for_board(board).missing_toolchain())
    built = build_firmware(board, digits, tmp_path, runtime="native", name="digits",
                           models=[("small", second)], console=lambda line: None)
    assert built.compiled
    assert [model["name"] for model in built.models] == ["digits", "small"]
    arena = max(model["arena_bytes"] for model in built.models)
    assert _symbol_sizes(built.elf).get("tinyedge_shared_arena") == arena
    _check_models_over_protocol(board, built, {"digits": digits, "small": second}, count=6)


def test_validate_checks_each_further_model_against_tflm_on_the_host(tmp_path, digits, second):
    """validate on a firmware with two models: the project's own on its test split, the other on
    min(samples, 16) random inputs, a row and a validation.json entry for it; min_agreement counts it."""
    import json

    from tinyedge import buildfiles
    from tinyedge.commands.validate import missed_budgets
    from tinyedge.pipeline.firmware_stage import record_of
    from tinyedge.tflite.model import load
    from tinyedge.validation import BuildFolder, validate
    from tinyedge.validation.report import summary_rows

    board = CATALOGUE.get("host")
    if for_board(board).missing_toolchain():
        pytest.skip(for_board(board).missing_toolchain())
    built = build_firmware(board, digits, tmp_path, runtime="native", name="digits",
                           models=[("small", second)], console=lambda line: None)
    _, inputs, labels = native_model_zoo.digits_model()
    quant = load(digits).main.input_tensors()[0].quantization
    x = (inputs[:5].astype(np.float32) - quant.zero_point[0]) * quant.scale[0]   # the int8 inputs again
    np.savez(tmp_path / buildfiles.TEST_DATA, x=x, y=labels[:5])
    folder = BuildFolder(board, tmp_path, "digits", digits.read_bytes(), {"firmware": record_of(built, tmp_path)})
    with for_board(board).link(built.elf, None) as link:
        result = validate(folder, link, 5, progress=lambda done: None)
    assert result.complete and result.metrics.agreement == 1.0
    assert [model.row() for model in result.further_models] == [("small", "5/5 equal TFLM")]
    data = json.loads(Path(result.files["json"]).read_text())
    assert data["further_models"][0] | {"disagreeing_samples": None} == {
        "name": "small", "sha256": built.models[1]["sha256"], "samples": 5, "equal": 5, "agreement": 1.0,
        "disagreeing_samples": None}
    assert ("small", "5/5 equal TFLM") in summary_rows(data)
    assert missed_budgets({"min_agreement": 1.0}, data) == []
    data["further_models"][0].update(equal=4, agreement=0.8)
    assert missed_budgets({"min_agreement": 1.0}, data) == [
        "model small: 4 of 5 random int8 inputs give outputs identical to host TFLM (80.00%), below "
        "budgets.min_agreement 100.00%"]


# ---- emu-m4: one firmware, one arena; placement ----------------------------------------------------

def _need_emulation_tools() -> None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the setup step installs it)")


def _one_firmware_shares_one_arena(tmp_path: Path, models: dict[str, Path]) -> None:
    _need_emulation_tools()
    board = CATALOGUE.get("emu-m4")
    (first, first_path), (other, other_path) = models.items()
    quiet = {"runtime": "native", "console": lambda line: None}
    combined = build_firmware(board, first_path, tmp_path / "both", name=first,
                              models=[(other, other_path)], **quiet)
    alone = {name: build_firmware(board, path, tmp_path / name, name=name, **quiet)
             for name, path in models.items()}
    arenas = {model["name"]: model["arena_bytes"] for model in combined.models}
    shared = _symbol_sizes(combined.elf, "arm-none-eabi-nm")["tinyedge_shared_arena"]
    print(f"\n{combined.arena_plan}\nRAM (ELF): {first} alone {alone[first].ram_bytes:,} B, {other} alone "
          f"{alone[other].ram_bytes:,} B (together {alone[first].ram_bytes + alone[other].ram_bytes:,} B); "
          f"one firmware with both {combined.ram_bytes:,} B; shared arena symbol {shared:,} B (arenas "
          f"{arenas[first]:,} B and {arenas[other]:,} B)")
    assert shared == max(arenas.values()) < sum(arenas.values())
    assert combined.ram_bytes < alone[first].ram_bytes + alone[other].ram_bytes
    _check_models_over_protocol(board, combined, models, count=4)


@pytest.mark.slow
@pytest.mark.emulated
def test_digits_and_mlperf_ad01_share_one_arena_on_emu_m4(tmp_path, digits):
    if not AD01.is_file():
        pytest.skip(f"{AD01} is absent (the MLPerf Tiny models live in ../shared beside the checkout)")
    _one_firmware_shares_one_arena(tmp_path, {"digits": digits, "ad01": AD01})


@pytest.mark.slow
@pytest.mark.emulated
def test_digits_and_a_test_made_model_share_one_arena_on_emu_m4(tmp_path, digits, second):
    _one_firmware_shares_one_arena(tmp_path, {"digits": digits, "small": second})


def _sections(elf: Path) -> dict[str, tuple[int, int]]:
    """Section -> (address, size) from `arm-none-eabi-readelf -S`."""
    listed = subprocess.run(["arm-none-eabi-readelf", "-SW", str(elf)], capture_output=True, text=True,
                            check=True).stdout
    sections = {}
    for match in re.finditer(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)", listed):
        sections[match.group(1)] = (int(match.group(2), 16), int(match.group(3), 16))
    return sections


@pytest.mark.slow
@pytest.mark.emulated
def test_placement_puts_weights_and_the_callers_arena_where_asked_on_emu_m4(tmp_path, digits):
    from tinyedge.project.render import Placement
    _need_emulation_tools()
    board = CATALOGUE.get("emu-m4")
    placement = Placement(weights_section=".te_weights", arena="caller", arena_section=".te_arena")
    built = build_firmware(board, digits, tmp_path, runtime="native", name="digits", placement=placement,
                           console=lambda line: None)
    plan = plan_project(make_bundle(digits.read_bytes(), "digits"), board, "platformio", "native")
    sections = _sections(built.elf)
    weights_address, weights_size = sections[".te_weights"]
    arena_address, arena_size = sections[".te_arena"]
    print(f"\n.te_weights at 0x{weights_address:08x}, {weights_size:,} B (weights {plan.native.weights_bytes:,} B);"
          f" .te_arena at 0x{arena_address:08x}, {arena_size:,} B (arena {plan.native.arena_bytes:,} B)")
    assert weights_address < 0x2000_0000 and weights_size >= plan.native.weights_bytes   # CODE: flash
    assert 0x2000_0000 <= arena_address < 0x4000_0000 and arena_size >= plan.native.arena_bytes   # SRAM
    symbols = _symbol_sizes(built.elf, "arm-none-eabi-nm")
    assert "digits_arena" not in symbols and symbols["tinyedge_shared_arena"] == plan.native.arena_bytes
    assert built.arena_plan == f"arena: the runtime glue's buffer (caller arena) of {plan.native.arena_bytes:,} B"
    _check_models_over_protocol(board, built, {"digits": digits}, count=4)
