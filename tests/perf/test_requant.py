"""te_requant (the fast kernels' requantization): the rearranged arithmetic equals what TFLM computes
(the tflite_micro interpreter running a 1x1 convolution whose accumulators are known exactly), the
bounds refuse what it cannot reproduce, and the weight layouts follow the kernels' load order."""

from __future__ import annotations

import numpy as np

from tinyedge.codegen.fast import channel_pair_layout, pair_words, requant_entry, requant_table
from tinyedge.codegen.quantization import conv_multipliers
from tinyedge.tflite.tflm import TflmRunner


def smmulr(a: int, b: int) -> int:
    return (a * b + (1 << 31)) >> 32


def apply(acc: int, entry: tuple[int, int, int, int]) -> int:
    """te_requant_apply in Python (the C arithmetic, int32 throughout)."""
    multiplier, left, addend, right = entry
    high = smmulr(acc << left, multiplier)
    return (high + addend + (high >> 31)) >> right


def _conv_1x1_model(input_shape: tuple[int, int, int, int], weights: np.ndarray, bias: np.ndarray,
                    filter_scales: np.ndarray, input_zero_point: int, output_zero_point: int) -> bytes:
    """A TFLite model of one CONV_2D 1x1 (VALID, stride 1, no activation): input and output scale 1,
    so each channel's effective scale is its filter scale."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    def quantization(scales, zero_points, axis=0):
        q = schema.QuantizationParametersT()
        q.scale, q.zeroPoint, q.quantizedDimension = list(scales), list(zero_points), axis
        return q

    def tensor(name, shape, dtype, buffer, quant):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer, t.quantization = name, list(shape), dtype, buffer, quant
        return t

    def buffer(data: bytes | None):
        b = schema.BufferT()
        b.data = None if data is None else list(data)
        return b

    n, h, w, c = input_shape
    channels = weights.shape[0]
    zeros = [0] * channels
    tensors = [
        tensor("input", input_shape, schema.TensorType.INT8, 1, quantization([1.0], [input_zero_point])),
        tensor("filter", (channels, 1, 1, c), schema.TensorType.INT8, 2, quantization(filter_scales, zeros)),
        tensor("bias", (channels,), schema.TensorType.INT32, 3, quantization(filter_scales, zeros)),
        tensor("output", (n, h, w, channels), schema.TensorType.INT8, 4,
               quantization([1.0], [output_zero_point])),
    ]
    options = schema.Conv2DOptionsT()
    options.padding, options.strideH, options.strideW = schema.Padding.VALID, 1, 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.Conv2DOptions, options
    graph = schema.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [3], [op]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CONV_2D
    code.version = 3
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [buffer(None), buffer(None), buffer(weights.astype(np.int8).tobytes()),
                     buffer(bias.astype("<i4").tobytes()), buffer(None)]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def test_rearranged_requantization_equals_tflm():
    """Per channel: an effective scale u * 2^-k and a bias up to 2^20; TFLM's output for each pixel
    (its accumulator computed here exactly) against te_requant's for the same accumulator."""
    rng = np.random.default_rng(3)
    channels, depth, input_zp, output_zp = 24, 8, -3, 5
    exponents = rng.integers(6, 15, channels)
    scales = (rng.uniform(0.5, 1.0, channels) * 2.0 ** -exponents).astype(np.float32)
    bias = np.array([int(rng.integers(-1, 2) * min(1 << 20, 60 / float(s))) for s in scales], np.int64)
    weights = rng.integers(-127, 128, (channels, depth)).astype(np.int8)
    shape = (1, 16, 16, depth)
    inputs = rng.integers(-128, 128, (6, *shape[1:])).astype(np.int8)
    inputs[0], inputs[1] = -128, 127
    tflm = TflmRunner(_conv_1x1_model(shape, weights, bias, scales, input_zp, output_zp)).run(inputs)

    multipliers, shifts = conv_multipliers(1.0, scales, 1.0, channels)
    bound = np.abs(bias) + 128 * np.abs(weights.astype(np.int64)).sum(axis=1)
    entries = [requant_entry(int(b), m, s, output_zp) for b, m, s in zip(bound, multipliers, shifts)]
    assert all(entries)
    accumulators = (inputs.astype(np.int64).reshape(-1, depth) - input_zp) @ weights.T.astype(np.int64) + bias
    ours = np.array([[min(max(apply(int(acc), entry), -128), 127) for acc, entry in zip(row, entries)]
                     for row in accumulators])
    assert np.array_equal(ours, tflm.reshape(-1, channels).astype(np.int64))
    # The comparison means something: most outputs are not saturated and they spread over the range.
    assert np.mean(np.abs(ours) < 127) > 0.5 and len(np.unique(ours)) > 150


def test_bounds_refuse_what_would_overflow():
    assert requant_entry(1 << 30, 1 << 30, -5, 0) is None          # acc << 1 leaves int32
    assert requant_entry(1 << 20, 1 << 30, 3, 0) is None           # left shift, no right shift
    assert requant_entry(1 << 20, 1 << 30, -31, 127) is None       # offset << 31 leaves int32
    assert requant_entry(1 << 20, 1 << 30, -8, 127) is not None


def test_dead_channels_become_constants():
    """A channel whose weights are all zero outputs requant(bias) + offset whatever the input:
    bias 2^30 with multiplier 2^30 (0.5) and shift -26 is 2^30 * 0.5 / 2^26 = 8, minus 3."""
    weights = np.array([[0, 0, 0, 0], [1, -2, 3, 4]])
    bias = np.array([1 << 30, 10])
    entries, new_bias = requant_table(weights, bias, [1 << 30, 1 << 30], [-26, -4], -3, -128, 127)
    assert new_bias.tolist() == [0, 10]
    assert apply(0, entries[0]) == 5
    assert requant_table(weights, bias, [1 << 30, 1 << 30], [-26, 2], -3, -128, 127) is None


def test_pair_layouts_follow_the_load_order():
    rows = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [-1, -2, -3, -4, -5, -6, -7, -8], [9, 9, 9, 9, 9, 9, 9, 9]],
                    np.int8)
    chunked = pair_words(rows, chunked=True)
    assert chunked[0].tolist() == [1 | 3 << 16, 2 | 4 << 16, 5 | 7 << 16, 6 | 8 << 16]
    natural = pair_words(rows, chunked=False)
    assert natural[1, 0] == (0xFFFF | 0xFFFE << 16)
    layout = channel_pair_layout(natural)
    assert layout[:4].tolist() == [natural[0, 0], natural[1, 0], natural[0, 1], natural[1, 1]]
    assert layout[8:].tolist() == natural[2].tolist()   # the odd last channel stays a plain row
