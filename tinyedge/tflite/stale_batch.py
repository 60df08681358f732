"""The one model form TFLM itself computes wrongly: the converter's dilated convolution of a model with a
dynamic batch size.

Converted with batch None, a dilated CONV_2D / DEPTHWISE_CONV_2D becomes SPACE_TO_BATCH_ND -> conv
(VALID) -> BATCH_TO_SPACE_ND, and the converter stores the intermediate tensors' shapes with the batch
it saw (1), not the batch times the block (4 for a dilation of 2). TFLM trusts the stored shapes: it
computes the first of the block's batches only and BATCH_TO_SPACE_ND scatters that quarter among
arena bytes nobody wrote. The native runtime folds the three ops into the dilated convolution they
stand for (tinyedge.codegen.ops.fold_dilated_convolution), so it is right where TFLM is not; converting
with a batch of 1 (as tinyedge's own conversion does) writes the dilation into the conv itself."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import TFLiteModel


@dataclass(frozen=True)
class StaleBatch:
    op_index: int           # the SPACE_TO_BATCH_ND
    block: tuple[int, ...]
    stored_batch: int       # the batch its output keeps
    true_batch: int         # input batch x block size

    def text(self) -> str:
        share = self.stored_batch / self.true_batch
        return (f"operator {self.op_index} (SPACE_TO_BATCH_ND, block {'x'.join(map(str, self.block))}) keeps "
                f"batch {self.stored_batch} for an output of batch {self.true_batch}: the converter's "
                f"dynamic-batch dilated convolution, which TFLM runs on {_share(share)} of the output only "
                f"(the rest is stale arena bytes); the native runtime folds it into the dilated "
                f"convolution correctly; convert with a batch of 1 (keras.Input(..., batch_size=1)) to avoid it")


def _share(share: float) -> str:
    return {0.5: "half", 0.25: "a quarter"}.get(share, f"1/{round(1 / share)}")


def stale_batch_dilations(model: TFLiteModel) -> list[StaleBatch]:
    """Every SPACE_TO_BATCH_ND of the main graph whose output's stored batch is not its input's batch
    times the block size (a constant block shape; a run-time one cannot be checked here)."""
    graph = model.main
    found = []
    for op in graph.operators:
        if op.opcode != "SPACE_TO_BATCH_ND" or len(op.inputs) < 2 or not op.outputs:
            continue
        block_tensor = graph.tensors[op.inputs[1]]
        if block_tensor.data is None:
            continue
        block = tuple(int(v) for v in np.asarray(block_tensor.data).reshape(-1))
        source, result = graph.tensors[op.inputs[0]].shape, graph.tensors[op.outputs[0]].shape
        if not source or not result:
            continue
        true_batch = int(source[0]) * int(np.prod(block))
        if int(result[0]) != true_batch:
            found.append(StaleBatch(op.index, block, int(result[0]), true_batch))
    return found
