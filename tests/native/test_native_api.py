"""The generated native C API as an integrator uses it (firmware/native/tinyedge_api.h and
<prefix>_model.h): the status codes of init and invoke, a caller's arena, re-entrant contexts, two models
in one program sharing one arena, placement in named sections, and the readable C (hex weights that
are the model's bytes, step comments that are TE_STEP_DONE's steps).

Oracles: tflite_micro's outputs, the contract's status numbers, readelf's symbol and section tables,
the tensor data TensorFlow Lite's interpreter reads from the .tflite, and the compiler (-Werror)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import native_model_zoo
from tinyedge.codegen import GeneratedRuntime, generate
from tinyedge.codegen.emit import c_hex, c_initializer
from tinyedge.codegen.host import NativeRunner, program_sources
from tinyedge.codegen.layer_names import short_layer_name
from tinyedge.codegen.params import INT8, INT16, INT32, UINT32, ConstArray
from tinyedge.hostcc import DEFAULT_FLAGS, compile_program, find_compiler
from tinyedge.tflite.model import load
from tinyedge.tflite.tflm import TflmRunner

# The contract's warning set, as errors.
STRICT = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow", "-Werror")
CALLER_ARENA = "-DTINYEDGE_ARENA_FROM_CALLER"
# The contract's numbers, not the header's: a renumbered status is a broken API.
STATUS = {"OK": 0, "NULL_ARGUMENT": -1, "ARENA_TOO_SMALL": -2, "ARENA_MISALIGNED": -3, "NO_ARENA": -4,
          "NOT_INITIALIZED": -5}
CONV = "conv_same_s1_relu"          # fast conv kernels, an arena of its own
SVDF = "svdf_rank2"                 # int8, int16 and int32 constant tensors, a state in the arena
NO_ARENA = "depthwise_mult2_s2_pertensor"   # every activation in the caller's buffers: ARENA_SIZE 0


TWO_OUTPUTS = "two_outputs"


def _path(zoo, name: str) -> Path:
    """A zoo model, or one of the hand-made ones outside the zoo's converted specs."""
    if name == SVDF:
        return native_model_zoo.svdf_model(next(s for s in native_model_zoo.SVDF_SPECS if s.name == SVDF))
    if name == TWO_OUTPUTS:
        return native_model_zoo.two_output_model()
    return zoo[name]


def _runtime(zoo, name: str, prefix: str = "m") -> GeneratedRuntime:
    return generate(load(_path(zoo, name)), prefix=prefix)


def _inputs(runtime: GeneratedRuntime, count: int = 12, seed: int = 3) -> np.ndarray:
    return native_model_zoo.random_inputs(runtime.input_shapes[0][1:], runtime.input_dtypes[0], count, seed)


def _tflm(zoo, name: str, inputs: np.ndarray) -> np.ndarray:
    return TflmRunner(load(_path(zoo, name)).raw, arena_size=256 * 1024).run(inputs)


def _write(folder: Path, runtimes: list[GeneratedRuntime], main: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for runtime in runtimes:
        for name, text in runtime.files.items():
            (folder / name).write_text(text)
        for source in runtime.kernel_sources:
            (folder / source.name).write_text(source.read_text())
    if main:
        (folder / "main.c").write_text(main)
    return folder


def _program(folder: Path, *flags: str) -> Path:
    """Every .c of `folder` compiled with the contract's warnings as errors, linked into one program."""
    program = folder / "program"
    result = subprocess.run([find_compiler(), *STRICT, *flags, "-I", str(folder),
                             *sorted(str(p) for p in folder.glob("*.c")), "-o", str(program), "-lm"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return program


# -- status codes ------------------------------------------------------------------------------------

_STATUS_MAIN = r"""
#include <stdio.h>
#include "m_model.h"

/* room to misalign by one byte and still hold the arena */
static uint8_t arena[M_ARENA_SIZE + 32] TINYEDGE_ARENA_PLACEMENT;
static int8_t input[M_INPUT_BYTES];
static int8_t output[M_OUTPUT_BYTES];

int main(void)
{
    m_context ctx = {NULL};
    printf("invoke_before_init %d\n", m_invoke(&ctx, input, output));
    printf("init_null_ctx %d\n", m_init(NULL, arena, sizeof arena));
    printf("init_too_small %d\n", m_init(&ctx, arena, M_ARENA_SIZE - 1));
    printf("init_misaligned %d\n", m_init(&ctx, arena + 1, M_ARENA_SIZE + 16));
    printf("invoke_after_failed_init %d\n", m_invoke(&ctx, input, output));
    printf("init_static %d\n", m_init(&ctx, NULL, 0));
    printf("init_exact %d\n", m_init(&ctx, arena, M_ARENA_SIZE));
    printf("invoke_null_input %d\n", m_invoke(&ctx, NULL, output));
    printf("invoke_null_output %d\n", m_invoke(&ctx, input, NULL));
    printf("invoke_null_ctx %d\n", m_invoke(NULL, input, output));
    printf("invoke %d\n", m_invoke(&ctx, input, output));
    printf("text %s\n", tinyedge_status_text(TINYEDGE_ERROR_ARENA_TOO_SMALL));
    return 0;
}
"""


def _statuses(program: Path) -> dict[str, str]:
    lines = subprocess.run([str(program)], capture_output=True, text=True, check=True, timeout=60).stdout
    return dict(line.split(" ", 1) for line in lines.splitlines())


@pytest.mark.parametrize("caller", [False, True], ids=["static-arena", "caller-arena"])
def test_init_and_invoke_refuse_bad_arguments_with_the_contracts_status_codes(zoo, tmp_path, caller):
    folder = _write(tmp_path, [_runtime(zoo, CONV)], _STATUS_MAIN)
    got = _statuses(_program(folder, *([CALLER_ARENA] if caller else [])))
    expected = {"invoke_before_init": STATUS["NOT_INITIALIZED"], "init_null_ctx": STATUS["NULL_ARGUMENT"],
                "init_too_small": STATUS["ARENA_TOO_SMALL"], "init_misaligned": STATUS["ARENA_MISALIGNED"],
                "invoke_after_failed_init": STATUS["NOT_INITIALIZED"],
                "init_static": STATUS["NO_ARENA"] if caller else STATUS["OK"], "init_exact": STATUS["OK"],
                "invoke_null_input": STATUS["NULL_ARGUMENT"], "invoke_null_output": STATUS["NULL_ARGUMENT"],
                "invoke_null_ctx": STATUS["NULL_ARGUMENT"], "invoke": STATUS["OK"]}
    assert {key: int(value) for key, value in got.items() if key != "text"} == expected
    assert got["text"] == "the arena is smaller than the model's ARENA_SIZE"


def test_a_model_without_arena_initializes_without_one_even_from_the_caller(zoo, tmp_path):
    runtime = _runtime(zoo, NO_ARENA)
    assert runtime.arena_bytes == 0
    main = _STATUS_MAIN.replace("M_ARENA_SIZE + 32", "16").replace("M_ARENA_SIZE - 1", "0") \
                       .replace("M_ARENA_SIZE + 16", "0").replace("M_ARENA_SIZE)", "0)")
    got = _statuses(_program(_write(tmp_path, [runtime], main), CALLER_ARENA))
    assert int(got["init_static"]) == STATUS["OK"] and int(got["invoke_before_init"]) == STATUS["NOT_INITIALIZED"]
    assert int(got["invoke"]) == STATUS["OK"]


# -- the arena: the model's, the caller's, shared ------------------------------------------------

@pytest.mark.parametrize("name", [CONV, SVDF])
def test_a_caller_arena_and_the_static_arena_both_equal_tflm(zoo, name):
    runtime = _runtime(zoo, name, prefix="tinyedge")
    inputs = _inputs(runtime)
    expected = _tflm(zoo, name, inputs)
    static = NativeRunner(runtime, compile_program(program_sources(runtime)))
    caller = NativeRunner(runtime, compile_program(program_sources(runtime), flags=(*DEFAULT_FLAGS, CALLER_ARENA)))
    np.testing.assert_array_equal(static.run(inputs), expected)
    np.testing.assert_array_equal(caller.run(inputs), expected)


def _sample_io(runtime: GeneratedRuntime, inputs: np.ndarray) -> tuple[bytes, int]:
    """stdin of the programs below (u32 count, then the samples) and the output bytes of one sample."""
    out_bytes = int(np.prod(runtime.output_shapes[0][1:])) * np.dtype(runtime.output_dtypes[0]).itemsize
    return struct.pack("<I", len(inputs)) + np.ascontiguousarray(inputs).tobytes(), out_bytes


_THREADS_MAIN = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "m_model.h"

#define SAMPLES_MAX 64
#define ROUNDS 200

typedef struct worker {
    m_context ctx;
    uint8_t arena[M_ARENA_SIZE] TINYEDGE_ARENA_PLACEMENT;
    int reverse;
    int status;
    int8_t outputs[SAMPLES_MAX][M_OUTPUT_BYTES];
} worker;

static int8_t inputs[SAMPLES_MAX][M_INPUT_BYTES];
static unsigned count;
static worker workers[2];

/* Every round runs all samples, one worker forwards and the other backwards, so the two contexts
 * invoke at the same time on different data. */
static void *work(void *argument)
{
    worker *self = (worker *)argument;
    int round;
    unsigned i;
    for (round = 0; round < ROUNDS && self->status == TINYEDGE_OK; ++round) {
        for (i = 0; i < count && self->status == TINYEDGE_OK; ++i) {
            unsigned sample = self->reverse ? count - 1u - i : i;
            self->status = m_invoke(&self->ctx, inputs[sample], self->outputs[sample]);
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t threads[2];
    int w;
    if (fread(&count, 4, 1, stdin) != 1 || count > SAMPLES_MAX ||
        fread(inputs, M_INPUT_BYTES, count, stdin) != count) {
        return 2;
    }
    for (w = 0; w < 2; ++w) {
        workers[w].reverse = w;
        workers[w].status = m_init(&workers[w].ctx, workers[w].arena, sizeof workers[w].arena);
        pthread_create(&threads[w], NULL, work, &workers[w]);
    }
    for (w = 0; w < 2; ++w) {
        pthread_join(threads[w], NULL);
        if (workers[w].status != TINYEDGE_OK) {
            return 3;
        }
    }
    for (w = 0; w < 2; ++w) {
        fwrite(workers[w].outputs, M_OUTPUT_BYTES, count, stdout);
    }
    return 0;
}
"""


def test_two_contexts_on_two_arenas_run_at_the_same_time_and_both_equal_tflm(zoo, tmp_path):
    """Re-entrant: two threads invoke the same model on their own contexts and arenas at once."""
    runtime = _runtime(zoo, CONV)
    inputs = _inputs(runtime, count=16)
    expected = _tflm(zoo, CONV, inputs)
    program = _program(_write(tmp_path, [runtime], _THREADS_MAIN), CALLER_ARENA, "-pthread")
    stdin, out_bytes = _sample_io(runtime, inputs)
    stdout = subprocess.run([str(program)], input=stdin, capture_output=True, check=True, timeout=300).stdout
    both = np.frombuffer(stdout, np.int8).reshape(2, len(inputs), *runtime.output_shapes[0][1:])
    np.testing.assert_array_equal(both[0], expected)
    np.testing.assert_array_equal(both[1], expected)


_SHARED_MAIN = r"""
#include <stdio.h>
#include "first_model.h"
#include "second_model.h"

#define LARGER(a, b) ((a) > (b) ? (a) : (b))
static uint8_t shared_arena[LARGER(FIRST_ARENA_SIZE, SECOND_ARENA_SIZE)] TINYEDGE_ARENA_PLACEMENT;

int main(void)
{
    static int8_t first_in[64][FIRST_INPUT_BYTES], second_in[64][SECOND_INPUT_BYTES];
    static int8_t first_out[64][FIRST_OUTPUT_BYTES], second_out[64][SECOND_OUTPUT_BYTES];
    first_context first;
    second_context second;
    unsigned count, i;
    if (fread(&count, 4, 1, stdin) != 1 || count > 64 || fread(first_in, FIRST_INPUT_BYTES, count, stdin) != count ||
        fread(&count, 4, 1, stdin) != 1 || fread(second_in, SECOND_INPUT_BYTES, count, stdin) != count) {
        return 2;
    }
    if (first_init(&first, shared_arena, sizeof shared_arena) != TINYEDGE_OK ||
        second_init(&second, shared_arena, sizeof shared_arena) != TINYEDGE_OK) {
        return 3;
    }
    /* one model at a time, alternating, in the one buffer */
    for (i = 0; i < count; ++i) {
        if (first_invoke(&first, first_in[i], first_out[i]) != TINYEDGE_OK ||
            second_invoke(&second, second_in[i], second_out[i]) != TINYEDGE_OK) {
            return 4;
        }
    }
    printf("%u\n", (unsigned)sizeof shared_arena);
    fwrite(first_out, FIRST_OUTPUT_BYTES, count, stdout);
    fwrite(second_out, SECOND_OUTPUT_BYTES, count, stdout);
    return 0;
}
"""


def test_two_models_link_into_one_program_sharing_one_arena_and_both_equal_tflm(zoo, tmp_path):
    first, second = _runtime(zoo, CONV, prefix="first"), _runtime(zoo, SVDF, prefix="second")
    first_inputs, second_inputs = _inputs(first, count=10, seed=4), _inputs(second, count=10, seed=5)
    folder = _write(tmp_path, [first, second], _SHARED_MAIN)
    program = _program(folder, CALLER_ARENA)
    stdin = _sample_io(first, first_inputs)[0] + _sample_io(second, second_inputs)[0]
    stdout = subprocess.run([str(program)], input=stdin, capture_output=True, check=True, timeout=120).stdout
    size_line, data = stdout.split(b"\n", 1)
    assert int(size_line) == max(first.arena_bytes, second.arena_bytes) < first.arena_bytes + second.arena_bytes
    first_bytes = first_inputs.shape[0] * _sample_io(first, first_inputs)[1]
    got_first = np.frombuffer(data[:first_bytes], np.int8).reshape(-1, *first.output_shapes[0][1:])
    got_second = np.frombuffer(data[first_bytes:], np.int8).reshape(-1, *second.output_shapes[0][1:])
    np.testing.assert_array_equal(got_first, _tflm(zoo, CONV, first_inputs))
    np.testing.assert_array_equal(got_second, _tflm(zoo, SVDF, second_inputs))
    # Both APIs in one program (no clash), and no model compiled a static arena of its own.
    listing = subprocess.run(["nm", "--defined-only", str(program)], capture_output=True, text=True, check=True).stdout
    names = {line.split()[-1] for line in listing.splitlines()}
    for prefix in ("first", "second"):
        api = ("init", "invoke", "invoke_multi", "input_bytes", "output_bytes")
        assert {f"{prefix}_{name}" for name in api} <= names
        assert f"{prefix}_arena" not in names


# -- placement -----------------------------------------------------------------------------------------

def _readelf(readelf: str, option: str, obj: Path) -> list[str]:
    return subprocess.run([readelf, option, str(obj)], capture_output=True, text=True, check=True).stdout.splitlines()


def _placed_symbols(obj: Path, readelf: str) -> dict[str, tuple[str, int, int]]:
    """{symbol: (section name, address, size)} of the object's data symbols (readelf -sW, -SW)."""
    sections = {}
    for line in _readelf(readelf, "-SW", obj):
        found = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)", line)
        if found:
            sections[found.group(1)] = found.group(2)
    symbols = {}
    for line in _readelf(readelf, "-sW", obj):
        parts = line.split()
        if len(parts) == 8 and parts[3] == "OBJECT" and parts[6] in sections:
            symbols[parts[7]] = (sections[parts[6]], int(parts[1], 16), int(parts[2]))
    return symbols


PLACEMENT = ('-DTINYEDGE_WEIGHTS_SECTION=".te_weights"', '-DTINYEDGE_PARAMS_SECTION=".te_params"',
             '-DTINYEDGE_ARENA_SECTION=".te_arena"')


@pytest.mark.parametrize("compiler", ["gcc", pytest.param("arm-none-eabi-gcc", marks=pytest.mark.emulated)])
def test_weights_tables_and_arena_land_in_the_sections_the_build_names(zoo, tmp_path, compiler):
    """Every object of each kind in its section; on the Arm EABI the sizes add up to the figures the
    build reports (weights_bytes, params_bytes), and the arena to ARENA_SIZE at 16-byte alignment."""
    if not shutil.which(compiler):
        pytest.skip(f"{compiler} is not installed")
    cpu = ["-mcpu=cortex-m4", "-mthumb"] if compiler.startswith("arm") else []
    readelf = "arm-none-eabi-readelf" if compiler.startswith("arm") else "readelf"
    for name in (CONV, SVDF):
        runtime = _runtime(zoo, name)
        folder = _write(tmp_path / name, [runtime])
        obj = folder / "m_model.o"
        result = subprocess.run([compiler, *cpu, *STRICT, *PLACEMENT, "-I", str(folder), "-c",
                                 str(folder / "m_model.c"), "-o", str(obj)], capture_output=True, text=True)
        assert result.returncode == 0 and not result.stderr, result.stderr
        symbols = _placed_symbols(obj, readelf)
        source = runtime.files["m_model.c"]
        weights = re.findall(r"\b(m_\w+)\[\d+\] TINYEDGE_WEIGHTS_PLACEMENT", source)
        params = re.findall(r"\b(m_\w+)(?:\[\w+\])? TINYEDGE_PARAMS_PLACEMENT", source)
        assert weights and params
        assert {symbols[s][0] for s in weights} == {".te_weights"}
        assert {symbols[s][0] for s in params} == {".te_params"}
        assert all(symbols[s][1] % 4 == 0 for s in weights)              # TINYEDGE_WEIGHTS_ALIGN
        assert symbols["m_arena"][0] == ".te_arena" and symbols["m_arena"][2] == runtime.arena_bytes
        assert symbols["m_arena"][1] % 16 == 0
        if cpu:
            assert sum(symbols[s][2] for s in weights) == runtime.weights_bytes
            assert sum(symbols[s][2] for s in params) == runtime.params_bytes


# -- readable output -------------------------------------------------------------------------------

def _tflite_tensor(model_bytes: bytes, index: int) -> np.ndarray:
    """A constant tensor as TensorFlow Lite's own interpreter reads it from the flatbuffer."""
    import tensorflow as tf
    interpreter = tf.lite.Interpreter(model_content=model_bytes)
    interpreter.allocate_tensors()
    return interpreter.get_tensor(index)


def _c_value(literal: str) -> int:
    most_negative = re.fullmatch(r"\(-(0x[0-9a-f]+) - 1\)", literal)
    if most_negative:
        return -int(most_negative.group(1), 16) - 1
    return int(literal.rstrip("uL"), 16)


HEX = re.compile(r"-?0x[0-9a-f]+L?|0x[0-9A-F]+u|\(-0x7f+ - 1\)")


@pytest.mark.slow   # imports TensorFlow for its interpreter
def test_hex_weights_in_the_c_text_are_the_tflite_tensors_bytes(zoo):
    for name in (SVDF, NO_ARENA):
        model = load(_path(zoo, name))
        source = _runtime(zoo, name).files["m_model.c"]
        arrays = re.findall(r"static const (\w+) m_tensor(\d+)\[(\d+)\] TINYEDGE_WEIGHTS_PLACEMENT = \{(.*?)\};",
                            source, re.S)
        assert {ctype for ctype, *_ in arrays} >= ({"int8_t", "int16_t", "int32_t"} if name == SVDF else {"int8_t"})
        for ctype, index, length, body in arrays:
            literals = [item.strip() for item in body.replace("\n", " ").split(",")]
            assert all(HEX.fullmatch(literal) for literal in literals), literals[:8]
            expected = _tflite_tensor(model.raw, int(index)).reshape(-1)
            assert len(literals) == int(length) == expected.size
            assert [_c_value(literal) for literal in literals] == expected.astype(np.int64).tolist()


_LITERALS_MAIN = r"""
#include <stdio.h>
#include <stdint.h>
static const int8_t bytes[] = {BYTES};
static const int16_t halves[] = {HALVES};
static const int32_t words[] = {WORDS};
static const uint32_t packed[] = {PACKED};
int main(void)
{
    size_t i;
    for (i = 0; i < sizeof bytes; ++i) printf("%d\n", bytes[i]);
    for (i = 0; i < sizeof halves / sizeof halves[0]; ++i) printf("%d\n", halves[i]);
    for (i = 0; i < sizeof words / sizeof words[0]; ++i) printf("%ld\n", (long)words[i]);
    for (i = 0; i < sizeof packed / sizeof packed[0]; ++i) printf("%lu\n", (unsigned long)packed[i]);
    return 0;
}
"""


@pytest.mark.parametrize("language", [["-x", "c", "-std=c99"], ["-x", "c++", "-std=c++17"]], ids=["c99", "c++17"])
def test_hex_literals_at_each_types_limits_compile_back_to_their_values(tmp_path, language):
    """C++17 refuses a narrowing initializer (0x80000000 is unsigned): the extremes are spelled so that
    both languages take them, and the compiler reads back the same values. (Where int is 16 bits,
    tests/project/test_compile.py's AVR library runs a small CNN exact in simavr.)"""
    cases = {"BYTES": (INT8, [-128, -13, -1, 0, 18, 127]), "HALVES": (INT16, [-32768, -32767, -1, 0, 32767]),
             "WORDS": (INT32, [-2 ** 31, -2 ** 31 + 1, -0x8000, -0x7FFF, -1, 0, 0xFFFF, 2 ** 31 - 1]),
             "PACKED": (UINT32, [0, 1, 0xFFB9FFCB, 2 ** 32 - 1])}
    main = _LITERALS_MAIN
    for key, (ctype, values) in cases.items():
        main = main.replace(key, c_initializer(ConstArray("a", ctype, np.array(values), weights=True)))
    (tmp_path / "main.c").write_text(main)
    compiler = "g++" if "c++" in language else find_compiler()
    if not shutil.which(compiler):
        pytest.skip(f"{compiler} is not installed")
    result = subprocess.run([compiler, *language, *STRICT[1:], str(tmp_path / "main.c"), "-o", str(tmp_path / "p")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr
    printed = subprocess.run([str(tmp_path / "p")], capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in printed] == [v for _, values in cases.values() for v in values]
    assert c_hex(-13, INT8) == "-0x0d" and c_hex(18, INT8) == "0x12" and c_hex(0xFFB9FFCB, UINT32) == "0xFFB9FFCBu"
    assert c_hex(-2 ** 31, INT32) == "(-0x7fffffff - 1)" and c_hex(-2 ** 15, INT16) == "(-0x7fff - 1)"
    assert c_hex(-0x8000, INT32) == "-0x00008000L"   # an unsigned int where int is 16 bits: long


@pytest.mark.parametrize("name", [CONV, SVDF, TWO_OUTPUTS, "add_residual_relu", "lstm_stacked"])
def test_one_step_comment_per_step_numbered_as_te_step_done(zoo, name):
    runtime = _runtime(zoo, name)
    source = runtime.files["m_model.c"]
    body = source[source.index("int m_invoke_multi("):]
    steps = re.findall(r"/\* step (\d+): (\w+) \(operator (\d+)\)(?: ([^*]*))? \*/\n(.*?)TE_STEP_DONE\((\d+), [^;]*\);",
                       body, re.S)
    assert [int(step[0]) for step in steps] == list(range(len(runtime.ops)))
    assert [int(step[5]) for step in steps] == list(range(len(runtime.ops)))
    assert [step[1] for step in steps] == runtime.ops
    assert all(len(step[3]) <= 40 and step[3] for step in steps)
    assert body.count("/* step ") == len(runtime.ops)


def test_short_layer_names():
    assert short_layer_name("sequential/conv2d_1/Relu;sequential/conv2d_1/BiasAdd") == "conv2d_1"
    assert short_layer_name("model/dense/MatMul") == "dense"
    assert short_layer_name("functional_1/block2/conv/Conv2D") == "block2/conv"
    assert short_layer_name("serving_default_input_1:0") == "serving_default_input_1:0"
    assert short_layer_name("") == ""
    hostile = short_layer_name("model/a*/b\n*/ x\\/Relu")
    assert "*/" not in hostile and "\n" not in hostile and "\\" not in hostile and "*" not in hostile
    assert len(short_layer_name("m/" + "x" * 100 + "/Relu")) == 40
