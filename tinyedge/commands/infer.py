"""`tinyedge infer`: run a .tflite model on the host with the native runtime or the TFLM interpreter."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..errors import TinyedgeError
from ..fileio import write_bytes_atomic
from ..hostcc import progress
from ..tflite.model import TFLiteModel, load


def load_inputs(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise TinyedgeError(f"{path} does not exist", "check the --input path") from None
    except IsADirectoryError:
        raise TinyedgeError(f"{path} is a folder, not a .npy file", "pass the inputs as one .npy file") from None
    except (ValueError, OSError, EOFError) as exc:
        raise TinyedgeError(f"{path} is not a readable .npy array ({exc})",
                            "save the inputs with numpy.save") from None
    if not isinstance(array, np.ndarray):
        raise TinyedgeError(f"{path} holds several arrays (.npz); infer takes one .npy array",
                            "save the inputs with numpy.save")
    return array


def check_inputs(model: TFLiteModel, batch: np.ndarray) -> None:
    """The same one-line errors for both runtimes: dtype first, then shape."""
    graph = model.main
    if len(graph.inputs) != 1:
        raise TinyedgeError(f"the model has {len(graph.inputs)} inputs; 'tinyedge infer' feeds one",
                            "use the Python API (tinyedge.codegen.host.NativeRunner.run_multi)")
    tensor = graph.input_tensors()[0]
    expected = tuple(tensor.shape[1:])
    if batch.dtype != np.dtype(tensor.dtype):
        raise TinyedgeError(f"input dtype is {batch.dtype}, the model takes {tensor.dtype}",
                            "quantize the inputs with the model's input scale and zero point"
                            if tensor.dtype == "int8" else f"convert the inputs to {tensor.dtype}")
    if batch.ndim < 1 or tuple(batch.shape[1:]) != expected:
        raise TinyedgeError(f"input shape is {tuple(batch.shape)}, the model takes "
                            f"(N, {', '.join(map(str, expected))})",
                            "the first axis counts samples; reshape the rest to the model's input")


def _save(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes_atomic(path, buffer.getvalue())


def run(model: Path, runtime: str = "native", input_path: Path | None = None,
        output_path: Path | None = None, **_ignored) -> np.ndarray:
    parsed = load(model)
    batch = load_inputs(Path(input_path))
    check_inputs(parsed, batch)
    if runtime == "native":
        from ..codegen.host import NativeRunner
        runner = NativeRunner.build(parsed)
        info = runner.runtime
        code = f"{runner.executable.text_bytes} B code (host .text)" if runner.executable.text_bytes else ""
        progress(f"native runtime: arena {info.arena_bytes} B, weights {info.weights_bytes} B, "
                 f"params ~{info.params_bytes} B{', ' + code if code else ''}; "
                 f"{len(info.ops)} kernel calls"
                 f"{' (compiled)' if not runner.executable.cached else ' (cached build)'}")
        outputs = runner.run(batch)
    elif runtime == "tflm":
        from ..tflite.tflm import TflmRunner
        progress("tflm: sizing the arena and running the TFLite Micro interpreter")
        outputs = TflmRunner(parsed.raw).run(batch)
    else:
        raise TinyedgeError(f"unknown runtime '{runtime}'", "use --runtime native or --runtime tflm")
    _save(Path(output_path), outputs)
    progress(f"wrote {output_path}: {outputs.shape[0]} outputs of shape {tuple(outputs.shape[1:])} "
             f"{outputs.dtype}")
    return outputs
