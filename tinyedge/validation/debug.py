"""Debug on the host: which step of the model first disagrees on the device, and why.

For each chosen sample the device (a layer build, TE_LAYERS) runs one inference and sends the CRC-32 of
every step's output (`te-layers`). The host computes the same tensors twice:

- with the real TFLM interpreter (PyPI tflite-micro) in InterpreterConfig.kPreserveAllTensors, the
  oracle the device must equal byte for byte. Its GetTensor(i, 0) gives, after an invoke, a dict
  {"dtype", "shape", "tensor_data"}, "tensor_data" a numpy array of the tensor's own type (int8
  activations, int32 for an ARG_MAX output, int16 for an SVDF's state); a variable tensor holds its
  state after that invoke, so the interpreter is reset before each sample, as the device's runtime
  starts each one from a zero state. Without kPreserveAllTensors GetTensor is refused (RuntimeError).
- with TensorFlow Lite's interpreter (tf.lite.Interpreter, experimental_preserve_all_tensors=True, its
  default kernels: XNNPACK where it takes the op), which rounds a requantization once where TFLM's
  kernels round twice; the two part by an LSB here and there (the rounding trap).

The first step whose CRC differs from TFLM's (zlib.crc32, IEEE 802.3, as the firmware's) is fetched
with `te-tensor K` and compared element by element: how many differ, the largest difference, and
whether the device's tensor equals TFLite's there instead. Each step's tensor is StepInfo.output_tensor:
a native step computes one operator or several fused ones and writes the output of the last.

The finding is one paragraph (`text`) and a JSON object (validation.json's "debug").
"""

from __future__ import annotations

import io
import pickle
import zlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..errors import TinyedgeError

DEFAULT_DEBUG_SAMPLES = 1


# ---- the host's tensors -------------------------------------------------------------------------

def _steps_tensors(steps) -> list[int]:
    return [int(step.output_tensor) for step in steps]


def _pack(arrays: list[list[np.ndarray]]) -> bytes:
    buffer = io.BytesIO()
    pickle.dump([[np.ascontiguousarray(a) for a in sample] for sample in arrays], buffer,
                protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.getvalue()


def preserve_all_arena(model_bytes: bytes) -> int:
    """An arena for TFLM with kPreserveAllTensors, where no tensor shares memory with another: every
    activation's bytes, 16-byte aligned, twice over for the kernels' scratch and bookkeeping, and 256 KB."""
    from ..tflite.model import parse
    graph = parse(model_bytes).main
    activations = sum((tensor.nbytes + 15) // 16 * 16 for tensor in graph.tensors if not tensor.is_constant)
    return 2 * activations + 256 * 1024


def activation_tensors(model_bytes: bytes) -> list[int]:
    """Every tensor that is not constant: inputs, intermediate ones, variables, outputs."""
    from ..tflite.model import parse
    return [tensor.index for tensor in parse(model_bytes).main.tensors if not tensor.is_constant]


def tflm_tensors(model_bytes: bytes, tensors: Sequence[int], inputs: Sequence[np.ndarray]) \
        -> list[list[np.ndarray]]:
    """TFLM's value of each tensor in `tensors` after one invoke of each input (one list per input),
    with kPreserveAllTensors (no tensor's memory is reused, so every intermediate one is still there).
    Runs in a forked child, as every other use of the interpreter here: a crash is one line."""
    from ..tflite import tflm
    arena = preserve_all_arena(model_bytes)

    def work() -> bytes:
        runtime = tflm._runtime()
        interpreter = runtime.Interpreter.from_bytes(
            bytes(model_bytes), arena_size=arena,
            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
        details = interpreter.get_input_details(0)
        results = []
        for sample in inputs:
            interpreter.reset()   # variables (LSTM, SVDF state) start from zero for every sample
            interpreter.set_input(np.asarray(sample, dtype=details["dtype"]).reshape(details["shape"]), 0)
            interpreter.invoke()
            results.append([np.array(interpreter.GetTensor(index, 0)["tensor_data"]) for index in tensors])
        return _pack(results)

    outcome, payload, log = tflm._isolated(work)
    if outcome != "ok":
        raise TinyedgeError(f"TFLM failed to run the model with kPreserveAllTensors: "
                            f"{tflm._reason(outcome, payload, log)}",
                            "run 'tinyedge validate' without --debug; the model may be damaged")
    return pickle.loads(payload)


def tflite_tensors(model_bytes: bytes, tensors: Sequence[int], inputs: Sequence[np.ndarray]) \
        -> tuple[list[list[np.ndarray]] | None, str | None]:
    """TFLite's interpreter's value of each tensor (experimental_preserve_all_tensors=True, its default
    kernels, one thread), one list per input; (None, the reason) when TFLite cannot run the model."""
    import os
    import warnings
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the deprecation and the preserve-all-tensors notes
            import tensorflow as tf
            interpreter = tf.lite.Interpreter(model_content=bytes(model_bytes), num_threads=1,
                                              experimental_preserve_all_tensors=True)
        interpreter.allocate_tensors()
        details = interpreter.get_input_details()[0]
        results = []
        for sample in inputs:
            interpreter.reset_all_variables()
            interpreter.set_tensor(details["index"],
                                   np.asarray(sample, dtype=details["dtype"]).reshape(details["shape"]))
            interpreter.invoke()
            results.append([np.array(interpreter.get_tensor(index)) for index in tensors])
        return results, None
    except Exception as exc:  # noqa: BLE001 - TFLite is a second opinion; its failure is reported
        return None, " ".join(str(exc).split())[:200] or type(exc).__name__


def step_operators(model_bytes: bytes, step) -> tuple[int, int]:
    """The operators a step computes, (first, last) in the model's order: from StepInfo.operator to the
    one that writes its output tensor (a native step fuses an operator with those after it)."""
    from ..tflite.model import parse
    operators = parse(model_bytes).main.operators
    first = int(step.operator)
    last = next((op.index for op in operators[first:] if int(step.output_tensor) in op.outputs), first)
    return first, last


def step_model(model_bytes: bytes, first: int, last: int) -> tuple[bytes, list[int]]:
    """A model of the operators first..last alone, whose inputs are the tensors they read that are
    neither constant nor variable nor written among them, and whose output is the last one's first;
    returns it and those input tensors' indices (in the original model)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    from ..tflite.model import parse
    tensors = parse(model_bytes).main.tensors
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(model_bytes), 0))
    graph = model.subgraphs[0]
    ops = graph.operators[first:last + 1]
    written = {int(i) for op in ops for i in (op.outputs if op.outputs is not None else [])}
    inputs: list[int] = []
    for op in ops:
        for index in (op.inputs if op.inputs is not None else []):
            index = int(index)
            if index >= 0 and index not in written and index not in inputs \
                    and not tensors[index].is_constant and not tensors[index].is_variable:
                inputs.append(index)
    graph.operators = ops
    graph.inputs = np.array(inputs, dtype=np.int32)
    graph.outputs = np.array([int(ops[-1].outputs[0])], dtype=np.int32)
    model.subgraphs = [graph]
    model.signatureDefs = None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), inputs


def tflite_step(model_bytes: bytes, step, values: dict[int, np.ndarray]) -> np.ndarray:
    """TFLite's interpreter's output of `step` alone, given the values of the tensors it reads (TFLM's,
    which the device's equal when every step before it agrees): the single-rounding result on the very
    inputs the device's step had."""
    import warnings
    first, last = step_operators(model_bytes, step)
    sub, inputs = step_model(model_bytes, first, last)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow as tf
        interpreter = tf.lite.Interpreter(model_content=sub, num_threads=1)
    interpreter.allocate_tensors()
    for details, index in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(details["index"], np.asarray(values[index]).reshape(details["shape"]))
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def crc32(array: np.ndarray) -> int:
    """The CRC-32 the firmware sends for a tensor: zlib's (IEEE 802.3) over its bytes in memory (little
    endian, as every supported core)."""
    return zlib.crc32(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes())


# ---- the comparison -----------------------------------------------------------------------------

@dataclass
class TensorDifference:
    """How one step's tensor differs from another's."""
    elements: int
    differing: int
    largest: int            # the largest absolute difference, in the tensor's integer steps (LSB)

    @property
    def equal(self) -> bool:
        return self.differing == 0

    def to_json(self) -> dict:
        return {"elements": self.elements, "differing": self.differing, "largest_difference": self.largest}


def difference(a: np.ndarray, b: np.ndarray) -> TensorDifference:
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.size != b.size:
        raise TinyedgeError(f"the device sent {a.size} elements where the host's tensor has {b.size}",
                            "the firmware is not the build's; run tinyedge build, then validate again")
    if a.dtype.kind == "f":
        delta = np.abs(a.astype(np.float64) - b.astype(np.float64))
        differing = int(np.count_nonzero(a.view(np.uint8) != b.view(np.uint8)) and np.count_nonzero(delta))
        return TensorDifference(a.size, differing, int(np.ceil(delta.max())) if a.size else 0)
    delta = np.abs(a.astype(np.int64) - b.astype(np.int64))
    return TensorDifference(a.size, int(np.count_nonzero(delta)), int(delta.max()) if a.size else 0)


def _step_json(step) -> dict:
    return {"step": int(step.index), "op": step.opcode, "operator": int(step.operator), "layer": step.layer,
            "tensor": int(step.output_tensor), "shape": [int(d) for d in step.shape], "dtype": str(step.dtype),
            "bytes": int(step.bytes)}


@dataclass
class SampleDebug:
    sample: int
    steps: int
    device_crcs: list[int]
    host_crcs: list[int]
    first_difference: int | None                       # the step index, None when every CRC agrees
    device_vs_tflm: TensorDifference | None = None     # at that step, from te-tensor
    device_vs_tflite: TensorDifference | None = None
    tflite_parts_at: int | None = None                 # the first step where TFLite's tensor is not TFLM's
    tflite_vs_tflm: TensorDifference | None = None     # at that step
    verdict: str = "equal"       # equal | rounding (the device is TFLite's there) | differs (neither)
    output_equal: bool | None = None
    single_step: bool = False    # device_vs_tflite is TFLite's step alone on TFLM's inputs to it
    tflite_output_vs_tflm: TensorDifference | None = None   # the last step's tensors, whole model each

    def to_json(self, steps) -> dict:
        data = {"sample": self.sample, "steps": self.steps,
                "equal_steps": sum(d == h for d, h in zip(self.device_crcs, self.host_crcs)),
                "verdict": self.verdict,
                "device_crc": [f"{crc:08x}" for crc in self.device_crcs],
                "tflm_crc": [f"{crc:08x}" for crc in self.host_crcs],
                "first_difference": None, "tflite_parts_at": None}
        if self.first_difference is not None:
            data["first_difference"] = {
                **_step_json(steps[self.first_difference]),
                "device_vs_tflm": self.device_vs_tflm.to_json() if self.device_vs_tflm else None,
                "device_vs_tflite": self.device_vs_tflite.to_json() if self.device_vs_tflite else None,
                "device_equals_tflite": bool(self.device_vs_tflite and self.device_vs_tflite.equal),
                "tflite_reference": "step alone on TFLM's inputs" if self.single_step else "whole model"}
        if self.tflite_parts_at is not None:
            data["tflite_parts_at"] = {**_step_json(steps[self.tflite_parts_at]),
                                       "tflite_vs_tflm": self.tflite_vs_tflm.to_json()}
        if self.tflite_output_vs_tflm is not None:
            data["tflite_last_step_vs_tflm"] = self.tflite_output_vs_tflm.to_json()
        return data


@dataclass
class DebugFinding:
    runtime: str
    steps: list                               # StepInfo, in execution order
    samples: list[SampleDebug] = field(default_factory=list)
    tflite_error: str | None = None           # why TFLite's interpreter gave no second opinion
    checksums: bool = True                    # False: the firmware times steps but sends no CRC (TFLM)
    text: str = ""
    error: str | None = None                  # why the comparison stopped (one line), when it did

    def to_json(self) -> dict:
        return {"runtime": self.runtime, "steps": len(self.steps), "checksums": self.checksums,
                "step_table": [_step_json(step) for step in self.steps],
                "samples": [sample.to_json(self.steps) for sample in self.samples],
                "tflite_error": self.tflite_error, "text": self.text, "error": self.error,
                "first_difference": next((s.first_difference for s in self.samples
                                          if s.first_difference is not None), None),
                "verdict": _overall_verdict(self.samples)}


def _overall_verdict(samples: list[SampleDebug]) -> str:
    if not samples:
        return "none"
    verdicts = {sample.verdict for sample in samples}
    for verdict in ("differs", "rounding", "unchecked"):
        if verdict in verdicts:
            return verdict
    return "equal"


def compare_sample(sample: int, steps, device_crcs: Sequence[int], tflm: Sequence[np.ndarray],
                   tflite: Sequence[np.ndarray] | None, fetch: Callable[[int], bytes],
                   single_step: Callable[[int], np.ndarray] | None = None) -> SampleDebug:
    """One sample: the device's CRCs against TFLM's step tensors (`tflm`, one per step); the first
    differing step's tensor fetched (`fetch(step)` -> its bytes, te-tensor) and held against TFLM's and
    TFLite's: `single_step(k)`, TFLite's step k alone on TFLM's inputs to it, else `tflite` (TFLite's
    whole-model tensors, fair only while TFLite has not parted from TFLM before k)."""
    host_crcs = [crc32(array) for array in tflm]
    if len(device_crcs) != len(steps):
        raise TinyedgeError(f"the device reports {len(device_crcs)} steps, the build's model has {len(steps)}",
                            "the firmware is not the build's; run tinyedge build, then validate again")
    result = SampleDebug(sample, len(steps), [int(c) for c in device_crcs], host_crcs, None)
    if tflite is not None:
        for position, (ours, theirs) in enumerate(zip(tflm, tflite)):
            gap = difference(theirs, ours)
            if not gap.equal:
                result.tflite_parts_at, result.tflite_vs_tflm = position, gap
                break
        if tflm:
            result.tflite_output_vs_tflm = difference(tflite[-1], tflm[-1])
    first = next((k for k, (d, h) in enumerate(zip(device_crcs, host_crcs)) if d != h), None)
    result.first_difference = first
    if first is None:
        return result
    reference = tflm[first]
    data = fetch(first)
    expected = reference.nbytes
    if len(data) != expected:
        raise TinyedgeError(f"te-tensor {first} gave {len(data)} bytes; step {first}'s output has {expected}",
                            "the firmware is not the build's; run tinyedge build, then validate again")
    device = np.frombuffer(data, dtype=reference.dtype.newbyteorder("<")).reshape(reference.shape)
    result.device_vs_tflm = difference(device, reference)
    if result.device_vs_tflm.equal:   # the CRC differed but the bytes agree: a CRC fault, not the model's
        raise TinyedgeError(f"step {first}'s CRC-32 from the device is {device_crcs[first]:08x}, but its tensor "
                            f"(te-tensor) is host TFLM's (CRC {host_crcs[first]:08x})",
                            "the firmware's CRC is wrong or its output buffer changed after the step; "
                            "report this with the firmware's validation.json")
    # The device's inputs to `first` are TFLM's (every earlier step is equal): TFLite's step alone on
    # those inputs is the fair second opinion; its whole-model tensor is one only while TFLite has not
    # parted from TFLM before `first`.
    alone = None
    if single_step is not None:
        try:
            alone = single_step(first)
        except Exception:  # noqa: BLE001 - a step TFLite cannot run alone: the whole model's tensor
            alone = None
    if alone is not None:
        result.device_vs_tflite = difference(device, alone)
        result.single_step = True
        fair = True
    elif tflite is not None:
        result.device_vs_tflite = difference(device, tflite[first])
        fair = result.tflite_parts_at is None or result.tflite_parts_at >= first
    else:
        fair = False
    result.verdict = "rounding" if fair and result.device_vs_tflite.equal else "differs"
    return result


# ---- the paragraph -----------------------------------------------------------------------------

def _name(step) -> str:
    layer = f" {step.layer}" if step.layer else ""
    shape = "×".join(str(int(d)) for d in step.shape) or "scalar"
    return f"step {step.index} ({step.opcode}{layer}, output {shape} {step.dtype})"


def _of(gap: TensorDifference) -> str:
    unit = "LSB" if gap.largest <= 1 else "LSBs"
    return f"{gap.differing:,} of {gap.elements:,} elements differ, by at most {gap.largest} {unit}"


def _samples(count: int) -> str:
    return "1 sample" if count == 1 else f"{count} samples"


def finding_text(finding: DebugFinding) -> str:
    """The one-paragraph finding: the first step where the device parts from host TFLM (or that none
    does), what differs there, whether it is TFLite's single-rounding result, and where TFLite's
    interpreter itself parts from TFLM."""
    steps, samples = finding.steps, finding.samples
    if not samples:
        return "No sample was debugged."
    runtime = "TFLM" if finding.runtime == "tflm" else "native"
    if not finding.checksums:
        equal = sum(1 for s in samples if s.output_equal)
        return (f"The {runtime} runtime's layer build times each of its {len(steps)} operators but does not "
                f"checksum their outputs, so no step can be compared on the device; its output equals host "
                f"TFLM's on {equal} of {_samples(len(samples))}. Debug the native runtime's firmware "
                f"(--runtime native), or TFLM built from a tree (--tflm-dir; Chirale_TensorFlowLite "
                f"keeps no tensors for a checksum), to compare every step.")
    parts = []
    differing = [s for s in samples if s.first_difference is not None]
    if not differing:
        parts.append(f"On {_samples(len(samples))}, every one of the {len(steps)} steps' outputs on the device "
                     f"has the CRC-32 of host TFLM's tensor (kPreserveAllTensors): the device follows TFLM "
                     f"step for step.")
    else:
        s = min(differing, key=lambda item: item.first_difference)
        step = steps[s.first_difference]
        where = (f"{len(differing)} of {_samples(len(samples))} (first: sample {s.sample})" if len(samples) > 1
                 else f"sample {s.sample}")
        before = (f"the {s.first_difference} step{'s' if s.first_difference != 1 else ''} before it agree"
                  if s.first_difference else "it is the model's first step")
        parts.append(f"The first step whose output on the device differs from host TFLM's is {_name(step)}, "
                     f"on {where}: {_of(s.device_vs_tflm)}; {before}.")
        if s.verdict == "rounding":
            on = " run alone on the same inputs" if s.single_step else ""
            parts.append(f"There the device's tensor equals that of TFLite's interpreter{on} (single rounding): "
                         "this is the rounding trap, where a kernel rounds the requantization once as TFLite "
                         "does and TFLM rounds twice, not a fault of the model or of the weights.")
        elif s.device_vs_tflite is not None and not s.single_step and s.tflite_parts_at is not None \
                and s.tflite_parts_at < s.first_difference:
            parts.append(f"TFLite's interpreter already parts from TFLM at step {s.tflite_parts_at}, before it, "
                         f"so it is no second opinion there; the device equals TFLM up to step "
                         f"{s.first_difference}, so it is not the rounding trap: look for a bug in that step's "
                         f"kernel or data (weights, parameters).")
        elif s.device_vs_tflite is not None:
            on = " run alone on the same inputs" if s.single_step else ""
            parts.append(f"TFLite's interpreter{on} does not give the device's tensor either "
                         f"({_of(s.device_vs_tflite)} against it), so this is not the rounding trap but a "
                         f"bug in that step's kernel or its data (weights, parameters) on the device.")
        else:
            parts.append("TFLite's interpreter gave no second opinion, so the rounding trap is not ruled out.")
    if finding.tflite_error:
        parts.append(f"TFLite's interpreter could not run the model ({finding.tflite_error}).")
    else:
        parted = [s for s in samples if s.tflite_parts_at is not None]
        if parted:
            s = min(parted, key=lambda item: item.tflite_parts_at)
            follows = ""
            if s.first_difference is None:
                follows = " The device follows TFLM, not TFLite."
            elif s.verdict == "rounding":
                follows = " The device follows TFLite there, not TFLM."
            last = ""
            if s.tflite_output_vs_tflm is not None and not s.tflite_output_vs_tflm.equal:
                last = f"; at the last step, {_of(s.tflite_output_vs_tflm)}"
            parts.append(f"TFLite's interpreter itself parts from TFLM at {_name(steps[s.tflite_parts_at])}: "
                         f"{_of(s.tflite_vs_tflm)} (sample {s.sample}{last}).{follows}")
        else:
            parts.append(f"TFLite's interpreter gives TFLM's tensors at every step on "
                         f"{_samples(len(samples))}.")
    return " ".join(parts)


# ---- the run against a device ---------------------------------------------------------------------

def check_debug_samples(requested: int | None) -> None:
    if requested is not None and requested <= 0:
        raise TinyedgeError(f"--debug-samples {requested} is not a positive number of samples",
                            "give 1 or more (default 1)")


def debug_device(client, model_bytes: bytes, steps, inputs: Sequence[np.ndarray], runtime: str = "native",
                 progress: Callable[[str], None] | None = None) -> DebugFinding:
    """Runs each input once on the device behind `client` (connected, a layer build), takes its CRCs
    (te-layers) and the first differing step's tensor (te-tensor), and compares with TFLM and TFLite."""
    steps = list(steps)
    tensors = _steps_tensors(steps)
    everything = sorted(set(activation_tensors(model_bytes)) | set(tensors))
    position = {index: k for k, index in enumerate(everything)}
    values = tflm_tensors(model_bytes, everything, inputs)
    tflm = [[sample[position[index]] for index in tensors] for sample in values]
    tflite, tflite_error = tflite_tensors(model_bytes, tensors, inputs)
    finding = DebugFinding(runtime, steps, tflite_error=tflite_error)
    for number, sample in enumerate(inputs):
        if progress is not None:
            progress(f"validate --debug: sample {number + 1} of {len(inputs)}")
        data = np.ascontiguousarray(sample).tobytes()
        client.load(data)
        client.infer(1, 0)
        output = client.output()
        rows = client.layers()
        crcs = [int(crc) for _, crc in rows]
        checksums = any(crc != 0 for crc in crcs) or not any(step.bytes for step in steps)
        if runtime == "tflm" and not checksums:
            finding.checksums = False
            expected = np.ascontiguousarray(tflm[number][-1]).tobytes() if tensors else b""
            result = SampleDebug(number, len(steps), crcs, [crc32(a) for a in tflm[number]], None,
                                 verdict="unchecked")
            result.output_equal = output == expected if tensors and steps[-1].output_tensor in \
                _graph_outputs(model_bytes) else None
            finding.samples.append(result)
            continue
        known = {index: values[number][position[index]] for index in everything}
        result = compare_sample(number, steps, crcs, tflm[number],
                                tflite[number] if tflite is not None else None, client.tensor,
                                lambda k: tflite_step(model_bytes, steps[k], known))
        finding.samples.append(result)
    finding.text = finding_text(finding)
    return finding


def _graph_outputs(model_bytes: bytes) -> list[int]:
    from ..tflite.model import parse
    return list(parse(model_bytes).main.outputs)


def build_steps(build) -> list:
    """The build's table of steps (StepInfo), as the firmware's layer build numbers them: the native
    runtime's generated steps, or one per operator for the TFLM runtime (tinyedge.layers)."""
    from ..layers import tflm_steps
    from ..tflite.model import parse
    model = parse(build.model_bytes, source=str(build.model_path))
    if (build.firmware.get("runtime") or "native") == "tflm":
        return tflm_steps(model)
    from ..codegen import generate
    return list(generate(model).steps)


def debug_build(client, build, inputs: Sequence[np.ndarray]) -> DebugFinding:
    """validate --debug on the build's own firmware (a layer build), for `inputs` (int8 samples)."""
    from ..console import say
    runtime = str(build.firmware.get("runtime") or "native")
    from ..device.errors import DeviceFailure
    say(f"validate --debug: every step of {len(inputs)} sample(s) against host TFLM (kPreserveAllTensors)")
    steps = build_steps(build)
    try:
        finding = debug_device(client, build.model_bytes, steps, list(inputs), runtime)
    except DeviceFailure:
        raise   # the device's fault: the validation stops as for any sample, its results kept
    except TinyedgeError as error:   # the comparison's own finding (a CRC over equal bytes...): kept
        finding = DebugFinding(runtime, steps, error=error.one_line())
        finding.text = f"validate --debug could not compare the steps: {error.one_line()}"
    say(f"validate --debug: {finding.text}")
    return finding


# ---- the report ---------------------------------------------------------------------------------

def summary_row(data: dict | None) -> tuple[str, str] | None:
    """validate's summary row for the finding: the first step that differs, or that none does."""
    if not data:
        return None
    samples = data.get("samples") or []
    if data.get("error"):
        return "debug", f"steps not compared: {data['error']}"
    if not data.get("checksums", True):
        return "debug", f"{data['steps']} operators timed, no per-step CRC (TFLM runtime)"
    first = next((s["first_difference"] for s in samples if s.get("first_difference")), None)
    if first is None:
        count = "1 sample" if len(samples) == 1 else f"{len(samples)} samples"
        return "debug", f"all {data['steps']} steps equal host TFLM on {count}"
    kind = {"rounding": "the rounding trap (equals TFLite)", "differs": "equals neither TFLM nor TFLite"}
    gap = first["device_vs_tflm"]
    layer = f" {first['layer']}" if first.get("layer") else ""
    return "debug", (f"first difference at step {first['step']} ({first['op']}{layer}): {gap['differing']} of "
                     f"{gap['elements']} elements, by at most {gap['largest_difference']}; "
                     f"{kind.get(data.get('verdict'), data.get('verdict'))}")


def html_section(data: dict | None) -> str:
    """The report's section: the paragraph and, per sample, each step's CRC on the device and host."""
    import html
    if not data:
        return ""
    escape = html.escape
    rows = []
    for sample in data.get("samples") or []:
        first = (sample.get("first_difference") or {}).get("step")
        for step, (device, host) in enumerate(zip(sample["device_crc"], sample["tflm_crc"])):
            mark = "first difference" if step == first else ("equal" if device == host else "differs")
            rows.append(f"<tr><td>{sample['sample']}</td><td>{step}</td><td><code>{escape(device)}</code></td>"
                        f"<td><code>{escape(host)}</code></td><td>{escape(mark)}</td></tr>")
    table = ("<table><tr><th>sample</th><th>step</th><th>device CRC-32</th><th>host TFLM CRC-32</th>"
             "<th></th></tr>\n" + "\n".join(rows) + "</table>") if rows else ""
    return f"<h2>Debug: the first step that differs</h2>\n<p>{escape(data.get('text') or '')}</p>\n{table}\n"
