"""The kernels' parameter structs, defined once: each dataclass here is both the Python value a
lowering builds and the C `typedef struct` in firmware/native/tinyedge_native.h.

The header's typedefs are rendered from these definitions (`python -m tinyedge.codegen.kernel_header`
rewrites them in place; tests/native/test_native_params.py fails when the committed header differs),
so the kernels still compile on their own from the committed header. Every field is required: a
lowering that forgets one fails when it builds the struct (TypeError), never compiles it as 0. The
struct sizes are computed from the field types under the Arm EABI (a test compares them with
arm-none-eabi-gcc's sizeof).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

MAX_DIMS = 6   # TE_MAX_DIMS: the largest rank the shape-generic kernels (broadcast, pad, mean) handle


@dataclass(frozen=True)
class CType:
    """A C type on a 32-bit Arm target: its spelling, sizeof, alignment and the numpy dtype of its
    elements (a struct of int32 words such as te_requant counts as `words` of them)."""
    spelling: str
    size: int
    align: int
    dtype: type | None = None
    words: int = 1


INT8 = CType("int8_t", 1, 1, np.int8)
INT32 = CType("int32_t", 4, 4, np.int32)
UINT32 = CType("uint32_t", 4, 4, np.uint32)
FLOAT = CType("float", 4, 4, np.float32)
SIZE_T = CType("size_t", 4, 4, np.uint32)
REQUANT = CType("te_requant", 16, 4, np.int32, words=4)
ARRAY_TYPES = {t.spelling: t for t in (INT8, INT32, UINT32, REQUANT)}
POINTER_BYTES = 4


@dataclass(frozen=True)
class ConstArray:
    """A constant array in flash: its C name, element type and values (numpy, exactly representable
    in that type). `weights` says which flash figure it counts in: the model's weights (constant
    tensors and the fast kernels' rearranged data) or the operators' parameters."""
    name: str
    ctype: CType
    values: np.ndarray
    weights: bool = False

    def __post_init__(self):
        values = np.asarray(self.values)
        info = np.iinfo(self.ctype.dtype)
        if values.size and (values.min() < info.min or values.max() > info.max):
            raise ValueError(f"{self.name}: values outside {self.ctype.spelling}")
        values = values.astype(self.ctype.dtype).reshape(-1, self.ctype.words)
        object.__setattr__(self, "values", values)

    @property
    def length(self) -> int:
        """Elements in C (an empty array is declared with one zero element)."""
        return max(len(self.values), 1)

    @property
    def nbytes(self) -> int:
        return self.length * self.ctype.size


# -- field kinds ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldKind:
    """How one struct member is declared, laid out and checked."""
    ctype: CType
    count: int = 1              # > 1: an array member of that many elements
    pointer: bool = False       # a `const <ctype> *` to a ConstArray (or NULL)

    @property
    def size(self) -> int:
        return POINTER_BYTES if self.pointer else self.ctype.size * self.count

    @property
    def align(self) -> int:
        return POINTER_BYTES if self.pointer else self.ctype.align

    def declaration(self, name: str) -> str:
        if self.pointer:
            return f"const {self.ctype.spelling} *{name}"
        return f"{self.ctype.spelling} {name}" + ("[TE_MAX_DIMS]" if self.count > 1 else "")

    def check(self, struct: str, name: str, value) -> None:
        where = f"{struct}.{name}"
        if self.pointer:
            if value is not None and not (isinstance(value, ConstArray) and value.ctype == self.ctype):
                raise TypeError(f"{where} takes a {self.ctype.spelling} ConstArray or None, not {value!r:.60}")
        elif self.ctype is FLOAT:
            if not isinstance(value, float):
                raise TypeError(f"{where} takes a float, not {value!r}")
        elif self.ctype is REQUANT:
            _check_ints(where, value, INT32, exact=4)
        elif self.count > 1:
            _check_ints(where, value, self.ctype, most=self.count)
        else:
            _check_ints(where, [value], self.ctype, exact=1)


def _check_ints(where: str, values, ctype: CType, exact: int | None = None, most: int | None = None) -> None:
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                        for v in values):
        raise TypeError(f"{where} takes {ctype.spelling} values, not {values!r:.60}")
    if exact is not None and len(values) != exact or most is not None and len(values) > most:
        raise TypeError(f"{where} takes {exact or f'at most {most}'} values, not {len(values)}")
    info = np.iinfo(ctype.dtype)
    if any(not info.min <= int(v) <= info.max for v in values):
        raise ValueError(f"{where} = {values!r:.60} does not fit {ctype.spelling}")


def _member(kind: FieldKind, doc: str):
    return field(metadata={"kind": kind, "doc": doc})


def i32(doc: str = ""):
    return _member(FieldKind(INT32), doc)


def i8(doc: str = ""):
    return _member(FieldKind(INT8), doc)


def f32(doc: str = ""):
    return _member(FieldKind(FLOAT), doc)


def dims(doc: str = ""):
    """int32_t name[TE_MAX_DIMS]: a tuple of up to MAX_DIMS ints (the rest are 0)."""
    return _member(FieldKind(INT32, count=MAX_DIMS), doc)


def embedded_requant(doc: str = ""):
    """An embedded te_requant: (multiplier, left shift, addend, right shift)."""
    return _member(FieldKind(REQUANT), doc)


def pointer(ctype: CType, doc: str = ""):
    return _member(FieldKind(ctype, pointer=True), doc)


class Struct:
    """Base of the parameter structs: subclasses are frozen dataclasses with a C_NAME."""
    C_NAME = ""
    C_TAG = ""       # a struct tag, for a type another struct embeds
    DOC = ""         # a comment above the typedef

    def __post_init__(self):
        for member in dataclasses.fields(self):
            member.metadata["kind"].check(self.C_NAME, member.name, getattr(self, member.name))

    @classmethod
    def members(cls) -> list[tuple[str, FieldKind, str]]:
        return [(m.name, m.metadata["kind"], m.metadata["doc"]) for m in dataclasses.fields(cls)]

    @classmethod
    def sizeof(cls) -> int:
        """sizeof under the Arm EABI: natural alignment, the size rounded up to the largest one."""
        offset, largest = 0, 1
        for _, kind, _ in cls.members():
            offset = math.ceil(offset / kind.align) * kind.align + kind.size
            largest = max(largest, kind.align)
        return math.ceil(offset / largest) * largest

    def arrays(self) -> list[ConstArray]:
        """The constant arrays the struct points to, in member order."""
        return [getattr(self, name) for name, kind, _ in self.members()
                if kind.pointer and getattr(self, name) is not None]


def struct(name: str, doc: str = "", tag: str = ""):
    """Declares a parameter struct: a frozen dataclass whose C name is `name`."""
    def wrap(cls):
        cls = dataclass(frozen=True)(cls)
        cls.C_NAME, cls.C_TAG, cls.DOC = name, tag, doc
        return cls
    return wrap


# -- the structs (in the header's order) ----------------------------------------------------------

@struct("te_conv_params")
class ConvParams(Struct):
    batches: int = i32()
    input_height: int = i32()
    input_width: int = i32()
    input_depth: int = i32()
    output_height: int = i32()
    output_width: int = i32()
    output_depth: int = i32()
    filter_height: int = i32()
    filter_width: int = i32()
    filter_input_depth: int = i32("CONV_2D: input_depth / groups; unused by depthwise")
    depth_multiplier: int = i32("DEPTHWISE_CONV_2D only")
    stride_height: int = i32()
    stride_width: int = i32()
    dilation_height: int = i32()
    dilation_width: int = i32()
    pad_height: int = i32("leading padding; trailing padding is implied by the shapes")
    pad_width: int = i32()
    input_offset: int = i32("-input zero point")
    output_offset: int = i32("output zero point")
    activation_min: int = i32()
    activation_max: int = i32()
    multipliers: ConstArray = pointer(INT32, "one per output channel")
    shifts: ConstArray = pointer(INT32, "one per output channel")


@struct("te_fully_connected_params")
class FullyConnectedParams(Struct):
    batches: int = i32()
    accum_depth: int = i32()
    output_depth: int = i32()
    input_offset: int = i32()
    filter_offset: int = i32()
    output_offset: int = i32()
    activation_min: int = i32()
    activation_max: int = i32()
    multipliers: ConstArray = pointer(INT32, "one per output channel (per-tensor models repeat it)")
    shifts: ConstArray = pointer(INT32)


@struct("te_pool_params")
class PoolParams(Struct):
    batches: int = i32()
    input_height: int = i32()
    input_width: int = i32()
    depth: int = i32()
    output_height: int = i32()
    output_width: int = i32()
    filter_height: int = i32()
    filter_width: int = i32()
    stride_height: int = i32()
    stride_width: int = i32()
    pad_height: int = i32()
    pad_width: int = i32()
    activation_min: int = i32()
    activation_max: int = i32()


@struct("te_binary_params")
class BinaryParams(Struct):
    flat_size: int = i32("output elements")
    rank: int = i32("dims used below, <= TE_MAX_DIMS; 0: same shapes")
    output_dims: tuple = dims()
    input1_strides: tuple = dims("0 along broadcast dimensions")
    input2_strides: tuple = dims()
    input1_offset: int = i32()
    input2_offset: int = i32()
    output_offset: int = i32()
    left_shift: int = i32("ADD, SUB, SQUARED_DIFFERENCE")
    input1_multiplier: int = i32("ADD, SUB, SQUARED_DIFFERENCE; PRELU: the rescale of inputs >= 0")
    input1_shift: int = i32("ADD only")
    input2_multiplier: int = i32("ADD only")
    input2_shift: int = i32("ADD only")
    output_multiplier: int = i32("PRELU: the rescale of input * alpha")
    output_shift: int = i32()
    activation_min: int = i32()
    activation_max: int = i32()


@struct("te_requant", tag="te_requant_s",
        doc="Per-channel requantization rearranged by the generator for the fast kernels (see te_requant_apply\n"
            "in te_simd.h for the arithmetic and codegen/fast.py for the bounds that make it exact).")
class Requant(Struct):
    multiplier: int = i32()
    left_shift: int = i32(">= 1")
    addend: int = i32("2^(right_shift - 1) + (output offset << right_shift)")
    right_shift: int = i32(">= 1")


@struct("te_fast_conv_params")
class FastConvParams(Struct):
    input_height: int = i32()
    input_width: int = i32()
    input_depth: int = i32()
    output_height: int = i32()
    output_width: int = i32()
    output_depth: int = i32()
    filter_height: int = i32()
    filter_width: int = i32()
    stride_height: int = i32()
    stride_width: int = i32()
    pad_height: int = i32()
    pad_width: int = i32()
    row_pairs: int = i32("filter_height * filter_width * input_depth / 2, rounded up to even")
    chunked: int = i32("input depth a multiple of 4: pairs (0, 2), (1, 3) per 4 values")
    input_zero_point: int = i32("what the padding reads as")
    activation_min: int = i32()
    activation_max: int = i32()
    bias: ConstArray = pointer(INT32, "folded, one per output channel")
    requant: ConstArray = pointer(REQUANT, "one per output channel")
    conv_table: ConstArray | None = pointer(
        INT32, "a fused ADD (the step is given a residual): output = ADD(conv, residual) computed as\n"
               "add_requant(conv_table[conv + 128] + residual_table[residual + 128]) clamped to the ADD's\n"
               "range; NULL without one")
    residual_table: ConstArray | None = pointer(INT32)
    add_requant: tuple = embedded_requant()
    add_min: int = i32()
    add_max: int = i32()


@struct("te_depthwise3x3_params")
class Depthwise3x3Params(Struct):
    input_height: int = i32()
    input_width: int = i32()
    depth: int = i32()
    output_height: int = i32()
    output_width: int = i32()
    stride_height: int = i32()
    stride_width: int = i32()
    pad_height: int = i32()
    pad_width: int = i32()
    input_zero_point: int = i32()
    activation_min: int = i32()
    activation_max: int = i32()
    full_range: int = i32("the activation range is [-128, 127]")
    bias: ConstArray = pointer(INT32, "folded")
    requant: ConstArray = pointer(REQUANT, "one per channel")


@struct("te_fast_fully_connected_params")
class FastFullyConnectedParams(Struct):
    batches: int = i32()
    accum_depth: int = i32("a multiple of 4")
    output_depth: int = i32()
    activation_min: int = i32()
    activation_max: int = i32()
    bias: ConstArray = pointer(INT32, "folded")
    requant: ConstArray = pointer(REQUANT, "one per output channel, or one for all (requant_step 0)")
    requant_step: int = i32("1, or 0 when every channel has the same entry (per-tensor quantization)")


@struct("te_relu_params")
class ReluParams(Struct):
    size: int = i32()
    input_offset: int = i32("input zero point")
    output_offset: int = i32("output zero point")
    multiplier: int = i32()
    shift: int = i32()
    activation_min: int = i32()
    activation_max: int = i32()


@struct("te_sigmoid_params")
class SigmoidParams(Struct):
    size: int = i32()
    input_zero_point: int = i32()
    input_range_radius: int = i32()
    input_multiplier: int = i32()
    input_left_shift: int = i32()


@struct("te_softmax_params")
class SoftmaxParams(Struct):
    outer_size: int = i32()
    depth: int = i32()
    input_multiplier: int = i32()
    input_left_shift: int = i32()
    diff_min: int = i32()


@struct("te_mean_params")
class MeanParams(Struct):
    kept_rank: int = i32("dimensions that stay, outermost first")
    kept_dims: tuple = dims()
    kept_strides: tuple = dims("input strides of those dimensions")
    reduced_rank: int = i32()
    reduced_dims: tuple = dims()
    reduced_strides: tuple = dims()
    reduced_count: int = i32("product of reduced_dims")
    input_zero_point: int = i32()
    output_zero_point: int = i32()
    multiplier: int = i32("already divided by reduced_count")
    shift: int = i32()


@struct("te_pad_params")
class PadParams(Struct):
    rank: int = i32()
    input_dims: tuple = dims()
    before: tuple = dims()
    after: tuple = dims()
    pad_value: int = i8()


@struct("te_concat_params")
class ConcatParams(Struct):
    count: int = i32("inputs")
    outer_size: int = i32("product of the dims before the axis")
    copy_sizes: ConstArray = pointer(INT32, "per input: its dim along the axis times the inner size (bytes)")


@struct("te_space_batch_params")
class SpaceBatchParams(Struct):
    input_batch: int = i32()
    input_height: int = i32()
    input_width: int = i32()
    depth: int = i32()
    output_batch: int = i32()
    output_height: int = i32()
    output_width: int = i32()
    block_height: int = i32()
    block_width: int = i32()
    pad_top: int = i32("SPACE_TO_BATCH_ND: leading padding")
    pad_left: int = i32()
    crop_top: int = i32("BATCH_TO_SPACE_ND: leading crops")
    crop_left: int = i32()
    pad_value: int = i8()


@struct("te_quantize_params")
class QuantizeParams(Struct):
    size: int = i32()
    input_zero_point: int = i32()
    output_zero_point: int = i32()
    multiplier: int = i32("requantize only")
    shift: int = i32("requantize only")
    scale: float = f32("quantize: output scale; dequantize: input scale")


@struct("te_strided_copy_params")
class StridedCopyParams(Struct):
    rank: int = i32("output dimensions used, >= 1")
    output_dims: tuple = dims()
    input_strides: tuple = dims("input elements between neighbours along each output dimension (< 0 reverses)")
    input_offset: int = i32("input element of output element 0")


@struct("te_gather_params")
class GatherParams(Struct):
    outer_size: int = i32("product of the input dims before the axis")
    axis_size: int = i32()
    inner_size: int = i32("product of the input dims after the axis (bytes copied per index)")
    count: int = i32("indices")
    indices: ConstArray = pointer(INT32, "each in [0, axis_size)")


@struct("te_resize_params")
class ResizeParams(Struct):
    batches: int = i32()
    input_height: int = i32()
    input_width: int = i32()
    depth: int = i32()
    output_height: int = i32()
    output_width: int = i32()
    y_lower: ConstArray = pointer(INT32, "per output row: the input row (nearest) or the upper-left one (bilinear)")
    y_upper: ConstArray | None = pointer(INT32, "bilinear only (NULL for nearest)")
    y_fraction: ConstArray | None = pointer(INT32, "bilinear only: the weight of y_upper in 1/1024ths")
    x_lower: ConstArray = pointer(INT32)
    x_upper: ConstArray | None = pointer(INT32)
    x_fraction: ConstArray | None = pointer(INT32)


@struct("te_hard_swish_params")
class HardSwishParams(Struct):
    size: int = i32()
    input_zero_point: int = i32()
    output_zero_point: int = i32()
    reluish_multiplier: int = i32("int16 fixed point: the input on a scale where 3.0 is 32768")
    reluish_exponent: int = i32()
    output_multiplier: int = i32("int16 fixed point: the input (times 128) on the output scale")
    output_exponent: int = i32("<= 0")


@struct("te_leaky_relu_params")
class LeakyReluParams(Struct):
    size: int = i32()
    input_zero_point: int = i32()
    output_zero_point: int = i32()
    identity_multiplier: int = i32("input >= zero point: input scale / output scale")
    identity_shift: int = i32()
    alpha_multiplier: int = i32("below it: alpha * input scale / output scale")
    alpha_shift: int = i32()


@struct("te_rsqrt_params")
class RsqrtParams(Struct):
    size: int = i32()
    input_zero_point: int = i32()
    output_zero_point: int = i32()
    multiplier: int = i32("1 / (sqrt(input scale) * output scale)")
    shift: int = i32()


@struct("te_l2_norm_params")
class L2NormParams(Struct):
    outer_size: int = i32()
    depth: int = i32("the last dimension, normalized")
    input_zero_point: int = i32()


@struct("te_arg_params")
class ArgParams(Struct):
    outer_size: int = i32("product of the dims before the axis")
    axis_size: int = i32()
    inner_size: int = i32("product of the dims after the axis")
    int64_output: int = i32("1: the output is int64, 0: int32")


@struct("te_log_softmax_params")
class LogSoftmaxParams(Struct):
    outer_size: int = i32()
    depth: int = i32()
    input_multiplier: int = i32("the input difference to Q5")
    input_left_shift: int = i32()
    reverse_multiplier: int = i32("Q5 back to the input scale (TFLM's reverse scaling divisor)")
    reverse_shift: int = i32("<= 0")
    diff_min: int = i32()


# -- matrix and sequence ops (ops_sequence.py) ------------------------------------------------------

UINT16 = CType("uint16_t", 2, 2, np.uint16)


@struct("te_transpose_conv_params")
class TransposeConvParams(Struct):
    batches: int = i32()
    input_height: int = i32()
    input_width: int = i32()
    input_depth: int = i32()
    output_height: int = i32()
    output_width: int = i32()
    output_depth: int = i32()
    filter_height: int = i32()
    filter_width: int = i32()
    stride_height: int = i32()
    stride_width: int = i32()
    pad_height: int = i32("leading padding of the output, as TFLM computes it from the output size")
    pad_width: int = i32()
    input_offset: int = i32("-input zero point")
    output_offset: int = i32("output zero point")
    activation_min: int = i32()
    activation_max: int = i32()
    multipliers: ConstArray = pointer(INT32, "one per output channel")
    shifts: ConstArray = pointer(INT32, "one per output channel")


@struct("te_batch_matmul_params")
class BatchMatMulParams(Struct):
    batches: int = i32("product of the output's batch dimensions")
    rows: int = i32()
    cols: int = i32()
    depth: int = i32()
    lhs_row_stride: int = i32("adj_x swaps these two")
    lhs_depth_stride: int = i32()
    rhs_depth_stride: int = i32("adj_y swaps these two")
    rhs_col_stride: int = i32()
    lhs_offset: int = i32("-lhs zero point")
    rhs_offset: int = i32("-rhs zero point")
    output_offset: int = i32()
    multiplier: int = i32()
    shift: int = i32()
    lhs_batch_offsets: ConstArray = pointer(INT32, "per output batch: where its lhs matrix starts (broadcast)")
    rhs_batch_offsets: ConstArray = pointer(INT32)


@struct("te_lstm_params")
class LstmParams(Struct):
    batches: int = i32()
    time_steps: int = i32()
    input_size: int = i32()
    state_size: int = i32()
    time_major: int = i32()
    input_offset: int = i32("-input zero point")
    input_multipliers: tuple = dims("per gate (input, forget, cell, output): input FC to int16 at 2^-12")
    input_shifts: tuple = dims()
    recurrent_multipliers: tuple = dims("per gate: recurrent FC to int16 at 2^-12")
    recurrent_shifts: tuple = dims()
    cell_gate_sigmoid: int = i32("the cell gate's activation: 1 sigmoid, 0 tanh")
    forget_multiplier: int = i32("forget gate * cell state -> cell scale")
    forget_shift: int = i32()
    input_gate_multiplier: int = i32("input gate * cell gate -> cell scale")
    input_gate_shift: int = i32()
    cell_clip_enabled: int = i32()
    cell_clip: int = i32("quantized to the cell scale")
    cell_tanh_multiplier: int = i32("tanh of the cell state: (x * multiplier + round) >> shift")
    cell_tanh_shift: int = i32()
    hidden_multiplier: int = i32("tanh(cell) * output gate -> hidden scale")
    hidden_shift: int = i32()
    hidden_zero_point: int = i32()
    sigmoid_table: ConstArray = pointer(UINT16, "sigmoid(i / 24) in 0.16, 256 entries")
    gate_offsets: ConstArray = pointer(INT32, "per gate and unit: bias + input_offset * sum(w), then (4 gates\n"
                                       "later) -hidden_zero_point * sum(recurrent w)")


INT16 = CType("int16_t", 2, 2, np.int16)
ARRAY_TYPES[INT16.spelling] = INT16   # SVDF's time weights are an int16 constant tensor


@struct("te_svdf_params")
class SvdfParams(Struct):
    batches: int = i32()
    input_size: int = i32()
    num_units: int = i32()
    rank: int = i32("filters = num_units * rank")
    memory_size: int = i32()
    input_zero_point: int = i32()
    state_zero_point: int = i32()
    output_zero_point: int = i32()
    feature_multiplier: int = i32("input * feature weights -> state scale")
    feature_shift: int = i32()
    output_multiplier: int = i32("state * time weights -> output scale")
    output_shift: int = i32()


STRUCTS: tuple[type[Struct], ...] = (
    ConvParams, FullyConnectedParams, PoolParams, BinaryParams, Requant, FastConvParams,
    Depthwise3x3Params, FastFullyConnectedParams, ReluParams, SigmoidParams, SoftmaxParams, MeanParams,
    PadParams, ConcatParams, SpaceBatchParams, QuantizeParams,
    StridedCopyParams, GatherParams, ResizeParams,
    HardSwishParams, LeakyReluParams, RsqrtParams, L2NormParams, ArgParams, LogSoftmaxParams,
    TransposeConvParams, BatchMatMulParams, LstmParams, SvdfParams)
STRUCT_BYTES: dict[str, int] = {s.C_NAME: s.sizeof() for s in STRUCTS}
