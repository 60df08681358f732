"""The one table of what TensorFlow Lite Micro runs: every op, the highest version accepted, and the
tflite::MicroMutableOpResolver method that registers it. The pipeline's check (`support`) and the
TFLM firmware's resolver (`resolver_methods`) both read it, so a model the check passes is a model
the firmware registers.

Which ops: the builtin registrations of TFLM's MicroMutableOpResolver, confirmed against the pinned
`tflite-micro` interpreter: a model whose op is missing here fails there with "Didn't find op for
builtin opcode" (tests/pipeline/test_pipeline_checks.py checks both directions over every builtin).
Which methods: each `Add...` of tensorflow/lite/micro/micro_mutable_op_resolver.h registers the
BuiltinOperator named beside it here (read from tflite-micro's tree of 2026-08-20;
tests/test_tflm_ops.py checks a local tree's header when TINYEDGE_TFLM_DIR names one). Which versions:
TFLM looks kernels up by op only, so the limit is the newest version TFLite's own runtime registers for
the op (tensorflow/lite/core/kernels/register.cc); a higher number means a feature neither runtime
knows. The numbers were read from TF 2.21's interpreter (the pinned converter): the highest version its
op resolver accepts for each op.
"""

from __future__ import annotations

from ..errors import TinyedgeError

# op name -> (highest version, MicroMutableOpResolver method)
TFLM_OPS: dict[str, tuple[int, str]] = {
    "ABS": (5, "AddAbs"), "ADD": (5, "AddAdd"), "ADD_N": (1, "AddAddN"), "ARG_MAX": (3, "AddArgMax"),
    "ARG_MIN": (3, "AddArgMin"), "ASSIGN_VARIABLE": (1, "AddAssignVariable"),
    "AVERAGE_POOL_2D": (3, "AddAveragePool2D"), "BATCH_MATMUL": (4, "AddBatchMatMul"),
    "BATCH_TO_SPACE_ND": (4, "AddBatchToSpaceNd"), "BROADCAST_ARGS": (1, "AddBroadcastArgs"),
    "BROADCAST_TO": (3, "AddBroadcastTo"), "CALL_ONCE": (1, "AddCallOnce"), "CAST": (8, "AddCast"),
    "CEIL": (1, "AddCeil"), "CONCATENATION": (5, "AddConcatenation"), "CONV_2D": (8, "AddConv2D"),
    "COS": (1, "AddCos"), "CUMSUM": (1, "AddCumSum"), "DEPTHWISE_CONV_2D": (7, "AddDepthwiseConv2D"),
    "DEPTH_TO_SPACE": (2, "AddDepthToSpace"), "DEQUANTIZE": (7, "AddDequantize"), "DIV": (2, "AddDiv"),
    "DYNAMIC_UPDATE_SLICE": (5, "AddDynamicUpdateSlice"), "ELU": (1, "AddElu"),
    "EMBEDDING_LOOKUP": (5, "AddEmbeddingLookup"), "EQUAL": (5, "AddEqual"), "EXP": (2, "AddExp"),
    "EXPAND_DIMS": (1, "AddExpandDims"), "FILL": (4, "AddFill"), "FLOOR": (1, "AddFloor"),
    "FLOOR_DIV": (3, "AddFloorDiv"), "FLOOR_MOD": (2, "AddFloorMod"),
    "FULLY_CONNECTED": (14, "AddFullyConnected"), "GATHER": (7, "AddGather"),
    "GATHER_ND": (5, "AddGatherNd"), "GREATER": (2, "AddGreater"),
    "GREATER_EQUAL": (3, "AddGreaterEqual"), "HARD_SWISH": (1, "AddHardSwish"), "IF": (1, "AddIf"),
    "L2_NORMALIZATION": (2, "AddL2Normalization"), "L2_POOL_2D": (1, "AddL2Pool2D"),
    "LEAKY_RELU": (2, "AddLeakyRelu"), "LESS": (3, "AddLess"), "LESS_EQUAL": (2, "AddLessEqual"),
    "LOG": (2, "AddLog"), "LOGICAL_AND": (1, "AddLogicalAnd"), "LOGICAL_NOT": (1, "AddLogicalNot"),
    "LOGICAL_OR": (1, "AddLogicalOr"), "LOGISTIC": (3, "AddLogistic"),
    "LOG_SOFTMAX": (2, "AddLogSoftmax"), "MAXIMUM": (4, "AddMaximum"),
    "MAX_POOL_2D": (3, "AddMaxPool2D"), "MEAN": (3, "AddMean"), "MINIMUM": (4, "AddMinimum"),
    "MIRROR_PAD": (3, "AddMirrorPad"), "MUL": (7, "AddMul"), "NEG": (1, "AddNeg"),
    "NOT_EQUAL": (4, "AddNotEqual"), "PACK": (4, "AddPack"), "PAD": (5, "AddPad"),
    "PADV2": (5, "AddPadV2"), "PRELU": (1, "AddPrelu"), "QUANTIZE": (4, "AddQuantize"),
    "READ_VARIABLE": (1, "AddReadVariable"), "REDUCE_ALL": (1, "AddReduceAll"),
    "REDUCE_MAX": (3, "AddReduceMax"), "REDUCE_MIN": (3, "AddReduceMin"), "RELU": (3, "AddRelu"),
    "RELU6": (3, "AddRelu6"), "RESHAPE": (1, "AddReshape"), "RESIZE_BILINEAR": (4, "AddResizeBilinear"),
    "RESIZE_NEAREST_NEIGHBOR": (4, "AddResizeNearestNeighbor"), "REVERSE_V2": (3, "AddReverseV2"),
    "ROUND": (1, "AddRound"), "RSQRT": (3, "AddRsqrt"), "SELECT_V2": (2, "AddSelectV2"),
    "SHAPE": (1, "AddShape"), "SIN": (1, "AddSin"), "SLICE": (7, "AddSlice"),
    "SOFTMAX": (3, "AddSoftmax"), "SPACE_TO_BATCH_ND": (4, "AddSpaceToBatchNd"),
    "SPACE_TO_DEPTH": (2, "AddSpaceToDepth"), "SPLIT": (4, "AddSplit"), "SPLIT_V": (2, "AddSplitV"),
    "SQRT": (2, "AddSqrt"), "SQUARE": (1, "AddSquare"),
    "SQUARED_DIFFERENCE": (2, "AddSquaredDifference"), "SQUEEZE": (2, "AddSqueeze"),
    "STRIDED_SLICE": (8, "AddStridedSlice"), "SUB": (5, "AddSub"), "SUM": (2, "AddSum"),
    "SVDF": (4, "AddSvdf"), "TANH": (3, "AddTanh"), "TRANSPOSE": (7, "AddTranspose"),
    "TRANSPOSE_CONV": (5, "AddTransposeConv"),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (4, "AddUnidirectionalSequenceLSTM"), "UNPACK": (4, "AddUnpack"),
    "VAR_HANDLE": (1, "AddVarHandle"), "WHILE": (1, "AddWhile"), "ZEROS_LIKE": (1, "AddZerosLike"),
}

# Custom ops TFLM registers by name (signal processing and detection post-processing). ETHOSU is not
# here: AddEthosU registers nothing unless TFLM is built for an Arm Ethos-U NPU, which no board has.
TFLM_CUSTOM_OPS: dict[str, str] = {
    "CIRCULAR_BUFFER": "AddCircularBuffer", "TFLite_Detection_PostProcess": "AddDetectionPostprocess",
}


def support(opcode: str, version: int, custom: bool) -> str | None:
    """None when TFLM runs this op at this version, otherwise the reason it does not."""
    if custom:
        return None if opcode in TFLM_CUSTOM_OPS else f"custom op '{opcode}' is not in TFLite Micro"
    if opcode not in TFLM_OPS:
        return f"op {opcode} is not implemented by TFLite Micro"
    limit = max_version(opcode)
    if version > limit:
        return f"op {opcode} version {version} is newer than TFLite Micro supports (up to {limit})"
    return None


def max_version(opcode: str) -> int | None:
    """The highest version of a builtin op TFLM accepts, None when TFLM lacks the op."""
    entry = TFLM_OPS.get(opcode)
    return entry[0] if entry else None


def method(opcode: str) -> str | None:
    """The MicroMutableOpResolver method registering one op (builtin or custom), None when TFLM lacks it."""
    entry = TFLM_OPS.get(opcode)
    return entry[1] if entry else TFLM_CUSTOM_OPS.get(opcode)


def resolver_methods(ops: list[str]) -> list[str]:
    """MicroMutableOpResolver methods registering exactly `ops` (builtin or custom names), in order."""
    missing = [op for op in ops if method(op) is None]
    if missing:
        raise TinyedgeError(f"TFLM's op resolver has no method for {', '.join(missing)}",
                            "these ops cannot run on TFLM; change the model")
    return [method(op) for op in ops]
