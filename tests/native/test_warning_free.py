"""The C a native project carries compiles warning-free under the contract's flag set: the generated
model C of a few models that between them call every kernel, the kernels themselves (firmware/native)
and the protocol firmware with the host port. The oracle is each compiler's exit status with -Werror
(a canary with one narrowing conversion shows the flags are live under that compiler)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

import native_model_zoo
from tinyedge.boards import Catalogue
from tinyedge.codegen import KERNEL_DIR, generate
from tinyedge.resources import FIRMWARE_DIR
from tinyedge.tflite.model import load

WARNINGS = ("-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow", "-Werror")
DIAGNOSTIC_LINES = 12   # of each refused file's diagnostics in a failure's message

# Zoo models chosen so that, together, their runtimes call every kernel file (checked below), plus the
# API's other shapes: several outputs, an int32 output, float I/O.
ZOO_MODELS = ["small_cnn_pertensor",          # fast conv, depthwise and fully connected, pooling, softmax
              "add_residual_relu",            # ADD fused into the convolution
              "hard_swish_squeeze_excite",    # elementwise ops, MEAN
              "lstm_last_state_dense",        # LSTM, reference fully connected, layout (second file)
              "conv_dilated_same",            # reference CONV_2D
              "zero_padding_conv",            # PAD
              "float_io_cnn",                 # QUANTIZE / DEQUANTIZE
              "transpose_conv_same_s2"]       # TRANSPOSE_CONV
EXTRA_MODELS = {"two_outputs": native_model_zoo.two_output_model,
                "arg_max_int32": native_model_zoo.arg_max_int32_model}


@dataclass(frozen=True)
class Toolchain:
    name: str
    command: tuple[str, ...]   # the compiler and its language and target flags
    required: bool = False     # gcc: the one compiler every setup has

    def check_installed(self) -> None:
        if shutil.which(self.command[0]) is None:
            if self.required:
                pytest.fail(f"{self.command[0]} is not on PATH")
            pytest.skip(f"{self.command[0]} is not installed (python3 -m tinyedge.bootstrap installs it)")

    def compile(self, source: Path, objects: Path, includes: list[Path]) -> str | None:
        """The compiler's diagnostics when it refuses `source` or says anything, None when silent."""
        command = [*self.command, *WARNINGS, "-O2", *[f"-I{folder}" for folder in includes],
                   "-c", str(source), "-o", str(objects / f"{source.stem}.o")]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0 and not result.stderr:
            return None
        lines = result.stderr.strip().splitlines()
        more = f"\n... {len(lines) - DIAGNOSTIC_LINES} more lines" if len(lines) > DIAGNOSTIC_LINES else ""
        return f"{source.name}:\n" + "\n".join(lines[:DIAGNOSTIC_LINES]) + more

    def assert_flags_are_live(self, folder: Path) -> None:
        canary = folder / "canary.c"
        canary.write_text("int narrow(long long value) { return value; }\n")
        assert self.compile(canary, folder, []) is not None, f"{self.name} accepts a narrowing conversion"


def _arm(board: str) -> Toolchain:
    flags = Catalogue.load().get(board).gcc_flags()
    return Toolchain(f"arm-none-eabi-gcc {board}", ("arm-none-eabi-gcc", *flags, "-std=c99"))


GCC = Toolchain("gcc c99", ("gcc", "-std=c99"), required=True)
CLANG = Toolchain("clang c99", ("clang", "-std=c99"))
HOST_TOOLCHAINS = [GCC, CLANG, Toolchain("g++ c++17", ("g++", "-x", "c++", "-std=c++17"))]
# The DSP path of te_simd.h (ACLE intrinsics) on M4 and M55, its portable C on M3.
ARM_BOARDS = ["emu-m4", "emu-m55", "emu-m3"]

TOOLCHAIN_PARAMS = [pytest.param(lambda toolchain=toolchain: toolchain, id=toolchain.name.replace(" ", "-"))
                    for toolchain in HOST_TOOLCHAINS] + \
                   [pytest.param(lambda board=board: _arm(board), id=board, marks=pytest.mark.emulated)
                    for board in ARM_BOARDS]


@pytest.fixture(scope="module")
def native_sources(zoo, tmp_path_factory) -> Path:
    """The models' runtimes written out as a project would carry them: model C files and kernels."""
    folder = tmp_path_factory.mktemp("native-sources")
    paths = {name: zoo[name] for name in ZOO_MODELS} | {name: make() for name, make in EXTRA_MODELS.items()}
    for prefix, path in paths.items():
        runtime = generate(load(path), prefix=prefix)
        for relative, text in runtime.files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text)
        for source in runtime.kernel_sources:
            shutil.copyfile(source, folder / source.name)
    return folder


def assert_compiles(toolchain: Toolchain, sources: list[Path], includes: list[Path], objects: Path) -> None:
    refusals = [message for source in sources if (message := toolchain.compile(source, objects, includes))]
    if refusals:
        pytest.fail(f"{toolchain.name} {' '.join(WARNINGS)} refuses {len(refusals)} of {len(sources)} files:\n"
                    + "\n\n".join(refusals), pytrace=False)


def test_the_models_call_every_kernel(native_sources):
    missing = sorted(p.name for p in KERNEL_DIR.glob("*.c") if not (native_sources / p.name).exists())
    assert not missing, f"no model of ZOO_MODELS uses {', '.join(missing)}: add one that does"


@pytest.mark.parametrize("make_toolchain", TOOLCHAIN_PARAMS)
def test_native_runtime_compiles_warning_free(make_toolchain, native_sources, tmp_path):
    toolchain = make_toolchain()
    toolchain.check_installed()
    toolchain.assert_flags_are_live(tmp_path)
    assert_compiles(toolchain, sorted(native_sources.glob("*.c")), [native_sources], tmp_path)


@pytest.mark.parametrize("toolchain", [GCC, CLANG], ids=["gcc-c99", "clang-c99"])
def test_protocol_firmware_compiles_warning_free(toolchain, tmp_path):
    toolchain.check_installed()
    protocol, port = FIRMWARE_DIR / "protocol", FIRMWARE_DIR / "port"
    sources = sorted(protocol.glob("*.c")) + [port / "host" / "port_host.c"]
    assert_compiles(toolchain, sources, [protocol, port], tmp_path)
