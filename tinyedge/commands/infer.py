"""`tinyedge infer`: run a .tflite model on the host with the native runtime or the TFLM interpreter."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..errors import TinyedgeError
from ..fileio import write_bytes_atomic
from ..console import say
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


def output_keys(model: TFLiteModel) -> list[str]:
    """The names of the arrays in the .npz that `infer` writes for a model with several outputs."""
    return [f"output_{position}" for position in range(len(model.main.outputs))]


def check_output_path(model: TFLiteModel, path: Path) -> None:
    """A .npy holds one array: a model with several outputs needs an .npz (checked before running)."""
    count = len(model.main.outputs)
    if count > 1 and path.suffix.lower() != ".npz":
        keys = output_keys(model)
        raise TinyedgeError(f"the model has {count} outputs and {path.name} would hold only one",
                            f"pass --output OUT.npz to get all of them, as {', '.join(keys)} in the "
                            f"model's output order")


def _save(path: Path, model: TFLiteModel, outputs: list[np.ndarray]) -> None:
    buffer = io.BytesIO()
    if path.suffix.lower() == ".npz":
        np.savez(buffer, **dict(zip(output_keys(model), outputs)))
    else:
        np.save(buffer, outputs[0], allow_pickle=False)
    write_bytes_atomic(path, buffer.getvalue())


def run(model: Path, runtime: str = "native", input_path: Path | None = None,
        output_path: Path | None = None, **_ignored) -> list[np.ndarray]:
    """Runs the model on every sample; returns one array (N, *output_shape[1:]) per model output."""
    parsed = load(model)
    output_path = Path(output_path)
    check_output_path(parsed, output_path)
    batch = load_inputs(Path(input_path))
    check_inputs(parsed, batch)
    if runtime == "native":
        from ..codegen.host import NativeRunner
        runner = NativeRunner.build(parsed)
        info = runner.runtime
        code = f"{runner.executable.text_bytes} B code (host .text)" if runner.executable.text_bytes else ""
        say(f"native runtime: arena {info.arena_bytes} B, weights {info.weights_bytes} B, "
                 f"params ~{info.params_bytes} B{', ' + code if code else ''}; "
                 f"{len(info.ops)} kernel calls"
                 f"{' (compiled)' if not runner.executable.cached else ' (cached build)'}")
        outputs = runner.run_multi([batch])
    elif runtime == "tflm":
        from ..tflite.tflm import TflmRunner
        say("tflm: sizing the arena and running the TFLite Micro interpreter")
        outputs = TflmRunner(parsed.raw).run_all(batch)
    else:
        raise TinyedgeError(f"unknown runtime '{runtime}'", "use --runtime native or --runtime tflm")
    _save(output_path, parsed, outputs)
    if output_path.suffix.lower() == ".npz":
        names = [tensor.name for tensor in parsed.main.output_tensors()]
        parts = [f"{key} = '{name}' {tuple(array.shape[1:])} {array.dtype}"
                 for key, name, array in zip(output_keys(parsed), names, outputs)]
        say(f"wrote {output_path}: {batch.shape[0]} samples; {'; '.join(parts)}")
    else:
        say(f"wrote {output_path}: {outputs[0].shape[0]} outputs of shape {tuple(outputs[0].shape[1:])} "
                 f"{outputs[0].dtype}")
    return outputs
