"""Which runtime a firmware uses (`--runtime auto`), and what the TFLM runtime needs: the op resolver
calls for exactly the model's ops and an arena sized by a real allocation test plus a margin."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import TinyedgeError
from ..tflite.model import TFLiteModel

RUNTIMES = ("auto", "native", "tflm")

# TFLite builtin op -> tflite::MicroMutableOpResolver method (tensorflow/lite/micro/
# micro_mutable_op_resolver.h). Ops TFLM has no method for are not listed.
TFLM_RESOLVER_METHODS: dict[str, str] = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce", "CAST": "AddCast", "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D", "COS": "AddCos", "CUMSUM": "AddCumSum",
    "DEPTH_TO_SPACE": "AddDepthToSpace", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv", "ELU": "AddElu", "EQUAL": "AddEqual", "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor", "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod", "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd", "GREATER": "AddGreater", "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish", "IF": "AddIf", "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu", "LESS": "AddLess",
    "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog", "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot", "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax", "MAX_POOL_2D": "AddMaxPool2D", "MAXIMUM": "AddMaximum",
    "MEAN": "AddMean", "MINIMUM": "AddMinimum", "MIRROR_PAD": "AddMirrorPad", "MUL": "AddMul",
    "NEG": "AddNeg", "NOT_EQUAL": "AddNotEqual", "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2",
    "PRELU": "AddPrelu", "QUANTIZE": "AddQuantize", "READ_VARIABLE": "AddReadVariable",
    "REDUCE_MAX": "AddReduceMax", "RELU": "AddRelu", "RELU6": "AddRelu6", "RESHAPE": "AddReshape",
    "RESIZE_BILINEAR": "AddResizeBilinear", "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "ROUND": "AddRound", "RSQRT": "AddRsqrt", "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape",
    "SIN": "AddSin", "SLICE": "AddSlice", "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "SPACE_TO_DEPTH": "AddSpaceToDepth", "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt",
    "SQUARE": "AddSquare", "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice", "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf",
    "TANH": "AddTanh", "TRANSPOSE": "AddTranspose", "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "UNPACK": "AddUnpack",
    "VAR_HANDLE": "AddVarHandle", "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}


@dataclass(frozen=True)
class RuntimeChoice:
    kind: str        # "native" or "tflm"
    reason: str      # one sentence for the user


def choose_runtime(model: TFLiteModel, requested: str = "auto") -> RuntimeChoice:
    """`auto`: native when it runs every op of the model, else tflm. An explicit native that cannot
    run the model is an error naming the ops."""
    from ..codegen import unsupported_ops

    if requested not in RUNTIMES:
        raise TinyedgeError(f"unknown runtime '{requested}'", f"choose one of {', '.join(RUNTIMES)}")
    if requested == "tflm":
        return RuntimeChoice("tflm", "tflm was requested")
    missing = unsupported_ops(model)
    if requested == "native":
        if missing:
            raise TinyedgeError(f"the native runtime does not support {', '.join(missing)}",
                                "use --runtime tflm (or auto)")
        return RuntimeChoice("native", "native was requested")
    if missing:
        return RuntimeChoice("tflm", f"auto chose tflm: the native runtime lacks {', '.join(missing)}")
    return RuntimeChoice("native", "auto chose native: it supports every op of the model "
                                   "(no interpreter, no external library)")


def tflm_resolver_methods(ops: list[str]) -> list[str]:
    """MicroMutableOpResolver methods registering exactly `ops`, in op-name order."""
    missing = [op for op in ops if op not in TFLM_RESOLVER_METHODS]
    if missing:
        raise TinyedgeError(f"TFLM's op resolver has no method for {', '.join(missing)}",
                            "these ops cannot run on TFLM; change the model")
    return [TFLM_RESOLVER_METHODS[op] for op in ops]


def tflm_arena_bytes(tested_minimum: int, margin: float) -> int:
    """The arena the TFLM firmware reserves: the host allocation test's minimum plus `margin` (a
    share), rounded up to 16 bytes."""
    return int(math.ceil(tested_minimum * (1.0 + margin) / 16.0)) * 16
