"""Everything the templates need to know about one model, gathered once: the flatbuffer, its int8
input and output, class labels, the ops, and a test sample with the host TFLM's output for it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import TinyedgeError
from ..int8_io import quantize
from ..tflite.model import TFLiteModel, parse
from .sanitize import model_names


# The output dtypes the firmware carries (TFLM runs int32 ARG_MAX / ARG_MIN indices, not int64 ones).
OUTPUT_DTYPES = ("int8", "int32")


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.elements * np.dtype(self.dtype).itemsize


@dataclass
class ModelBundle:
    name: str                      # as the user wrote it (goes into strings only, escaped)
    model: TFLiteModel = field(repr=False)
    model_bytes: bytes = field(repr=False)
    sha256: str
    input: TensorSpec
    output: TensorSpec
    labels: list[str]
    ops: list[str]                 # builtin op names, sorted, each once
    sample_input: bytes = field(repr=False)
    sample_output: bytes = field(repr=False)  # the host TFLM's output bytes for sample_input

    @property
    def c_name(self) -> str:
        """The stem of generated symbols (sanitize.model_names, like every other use of the name)."""
        return model_names(self.name).c_name

    @property
    def protocol_name(self) -> str:
        """What the firmware answers to `te-model` and `profile`."""
        return model_names(self.name).protocol

    @property
    def model_symbol(self) -> str:
        return f"tinyedge_{self.c_name}_model_data"


def _tensor_spec(model: TFLiteModel, index: int) -> TensorSpec:
    tensor = model.main.tensors[index]
    quant = tensor.quantization
    scale = float(quant.scale[0]) if quant is not None else 0.0
    zero = int(quant.zero_point[0]) if quant is not None else 0
    return TensorSpec(tuple(int(d) for d in tensor.shape), tensor.dtype, scale, zero)


def quantize_sample(sample: np.ndarray, spec: TensorSpec) -> bytes:
    """The sample as the model's int8 input bytes (float samples are quantized with the input's
    scale and zero point by tinyedge.int8_io, the firmware's arithmetic)."""
    array = np.asarray(sample)
    if array.size != spec.elements:
        raise TinyedgeError(f"the test sample has {array.size} values but the model's input "
                            f"{list(spec.shape)} needs {spec.elements}", "pass one sample of the test data")
    if array.dtype == np.int8:
        return array.astype(np.int8).tobytes()
    if spec.scale == 0.0:
        raise TinyedgeError("the model's input has no quantization scale",
                            "use a fully int8-quantized model (tinyedge build makes one)")
    return quantize(array, spec.scale, spec.zero_point).tobytes()


def make_bundle(model_bytes: bytes, name: str, labels: list[str] | None = None,
                sample: np.ndarray | None = None) -> ModelBundle:
    """Reads the model and runs the sample (zeros at the input's zero point when None) through the
    real TFLM interpreter on the host."""
    from ..tflite.tflm import TflmRunner  # loads a native extension: only when a bundle is made

    model = parse(model_bytes)
    graph = model.main
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise TinyedgeError(f"the model has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                            "firmware generation supports one of each", "export a single-input, "
                            "single-output model")
    input_spec = _tensor_spec(model, graph.inputs[0])
    output_spec = _tensor_spec(model, graph.outputs[0])
    # The firmware moves the output as bytes (its dtype's itemsize x elements): int8 scores, or the
    # int32 indices of an ARG_MAX / ARG_MIN output.
    for role, spec, dtypes in (("input", input_spec, ("int8",)), ("output", output_spec, OUTPUT_DTYPES)):
        if spec.dtype not in dtypes:
            raise TinyedgeError(f"the model's {role} is {spec.dtype}; the firmware expects "
                                + " or ".join(dtypes), "convert with int8 input and output (tinyedge build does)")
    labels = list(labels or [])
    classes = output_spec.shape[-1] if output_spec.shape else 1
    if labels and len(labels) != classes:
        raise TinyedgeError(f"{len(labels)} labels given but the model has {classes} outputs",
                            "list one label per output class in data.labels")
    if sample is None:
        sample_input = np.full(input_spec.shape, input_spec.zero_point, dtype=np.int8).tobytes()
    else:
        sample_input = quantize_sample(sample, input_spec)
    runner = TflmRunner(model_bytes)
    batch = np.frombuffer(sample_input, dtype=np.int8).reshape((1, *input_spec.shape[1:]))
    sample_output = np.ascontiguousarray(runner.run(batch)[0], dtype=output_spec.dtype).tobytes()
    return ModelBundle(
        name=name, model=model,
        model_bytes=bytes(model_bytes), sha256=hashlib.sha256(model_bytes).hexdigest(),
        input=input_spec, output=output_spec, labels=labels,
        ops=sorted({op.opcode for op in graph.operators}),
        sample_input=sample_input, sample_output=sample_output)


# Prefixes of tinyedge's own symbols and files (te_model.h, te_* kernels, tinyedge_* glue): a model whose
# name would give one gets "m_" in front, so its symbols can never clash with them.
RESERVED_PREFIXES = ("te", "tinyedge")


def native_prefix(name: str) -> str:
    """The C prefix of a model's generated symbols and files (<prefix>_model.c/.h): its sanitized name."""
    stem = model_names(name).c_name
    reserved = any(stem == word or stem.startswith(word + "_") for word in RESERVED_PREFIXES)
    return f"m_{stem}" if reserved else stem


def check_distinct(names: list[str]) -> None:
    """Every model of one firmware needs its own C prefix (and so its own protocol name)."""
    seen: dict[str, str] = {}
    for name in names:
        prefix = native_prefix(name)
        key = prefix.upper()   # the headers' macros are <PREFIX>_..., so case alone does not separate
        if key in seen:
            clash = (f"two models of the firmware are named '{name}'" if seen[key] == name else
                     f"the models '{seen[key]}' and '{name}' both get the C prefix {prefix}")
            raise TinyedgeError(clash, "give each [[model]] (or --model NAME=PATH) its own name")
        seen[key] = name


def further_bundle(path: Path, name: str) -> ModelBundle:
    """A further model of the firmware ([[model]] or --model): its .tflite read and checked as a user's
    model is (a fully int8 model TFLM runs), then bundled with a zero-point sample."""
    from ..pipeline.checks import require_int8_tflm
    path = Path(path)
    if not path.is_file():
        raise TinyedgeError(f"model '{name}': {path} does not exist",
                            "fix its path in [[model]] (relative to the project) or in --model")
    model_bytes = path.read_bytes()
    require_int8_tflm(parse(model_bytes, source=str(path)), f"model '{name}' ({path})")
    return make_bundle(model_bytes, name)
