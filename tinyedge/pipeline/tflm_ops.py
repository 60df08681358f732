"""The builtin operators TensorFlow Lite Micro can run, with the highest op version accepted.

Which ops: the builtin registrations of TFLM's MicroMutableOpResolver (micro_mutable_op_resolver.h,
kernels/micro_ops.h), confirmed against the pinned `tflite-micro` interpreter: a model whose op is
missing here fails there with "Didn't find op for builtin opcode" (tests/pipeline/test_tflm_ops.py
checks both directions). Which versions: TFLM looks kernels up by op only, so the limit is the newest
version TFLite's own runtime registers for the op (tensorflow/lite/core/kernels/register.cc); a higher
number means a feature neither runtime knows. The numbers were read from TF 2.21's interpreter (the
pinned converter): the highest version its op resolver accepts for each op.
"""

from __future__ import annotations

TFLM_MAX_VERSIONS: dict[str, int] = {
    "ABS": 5, "ADD": 5, "ADD_N": 1, "ARG_MAX": 3, "ARG_MIN": 3, "ASSIGN_VARIABLE": 1,
    "AVERAGE_POOL_2D": 3, "BATCH_MATMUL": 4, "BATCH_TO_SPACE_ND": 4, "BROADCAST_ARGS": 1,
    "BROADCAST_TO": 3, "CALL_ONCE": 1, "CAST": 8, "CEIL": 1, "CONCATENATION": 5, "CONV_2D": 8,
    "COS": 1, "CUMSUM": 1, "DEPTH_TO_SPACE": 2, "DEPTHWISE_CONV_2D": 7, "DEQUANTIZE": 7, "DIV": 2,
    "DYNAMIC_UPDATE_SLICE": 5, "ELU": 1, "EMBEDDING_LOOKUP": 5, "EQUAL": 5, "EXP": 2,
    "EXPAND_DIMS": 1, "FILL": 4, "FLOOR": 1, "FLOOR_DIV": 3, "FLOOR_MOD": 2,
    "FULLY_CONNECTED": 14, "GATHER": 7, "GATHER_ND": 5, "GREATER": 2, "GREATER_EQUAL": 3,
    "HARD_SWISH": 1, "IF": 1, "L2_NORMALIZATION": 2, "L2_POOL_2D": 1, "LEAKY_RELU": 2, "LESS": 3,
    "LESS_EQUAL": 2, "LOG": 2, "LOG_SOFTMAX": 2, "LOGICAL_AND": 1, "LOGICAL_NOT": 1,
    "LOGICAL_OR": 1, "LOGISTIC": 3, "MAX_POOL_2D": 3, "MAXIMUM": 4, "MEAN": 3, "MINIMUM": 4,
    "MIRROR_PAD": 3, "MUL": 7, "NEG": 1, "NOT_EQUAL": 4, "PACK": 4, "PAD": 5, "PADV2": 5,
    "PRELU": 1, "QUANTIZE": 4, "READ_VARIABLE": 1, "REDUCE_ALL": 1, "REDUCE_MAX": 3,
    "REDUCE_MIN": 3, "RELU": 3, "RELU6": 3, "RESHAPE": 1, "RESIZE_BILINEAR": 4,
    "RESIZE_NEAREST_NEIGHBOR": 4, "REVERSE_V2": 3, "ROUND": 1, "RSQRT": 3, "SELECT_V2": 2,
    "SHAPE": 1, "SIN": 1, "SLICE": 7, "SOFTMAX": 3, "SPACE_TO_BATCH_ND": 4, "SPACE_TO_DEPTH": 2,
    "SPLIT": 4, "SPLIT_V": 2, "SQRT": 2, "SQUARE": 1, "SQUARED_DIFFERENCE": 2, "SQUEEZE": 2,
    "STRIDED_SLICE": 8, "SUB": 5, "SUM": 2, "SVDF": 4, "TANH": 3, "TRANSPOSE": 7,
    "TRANSPOSE_CONV": 5, "UNIDIRECTIONAL_SEQUENCE_LSTM": 4, "UNPACK": 4, "VAR_HANDLE": 1,
    "WHILE": 1, "ZEROS_LIKE": 1,
}

# Custom ops TFLM registers by name (signal processing and detection post-processing).
TFLM_CUSTOM_OPS = ("CIRCULAR_BUFFER", "TFLite_Detection_PostProcess", "ETHOSU")


def support(opcode: str, version: int, custom: bool) -> str | None:
    """None when TFLM runs this op at this version, otherwise the reason it does not."""
    if custom:
        return None if opcode in TFLM_CUSTOM_OPS else f"custom op '{opcode}' is not in TFLite Micro"
    limit = TFLM_MAX_VERSIONS.get(opcode)
    if limit is None:
        return f"op {opcode} is not implemented by TFLite Micro"
    if version > limit:
        return f"op {opcode} version {version} is newer than TFLite Micro supports (up to {limit})"
    return None
