/* ADD, MUL, SUB, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM and PRELU, int8, with NumPy-style broadcasting
 * described by per-input strides. Element i is read before element i is
 * written, so the planner may give the output an input's buffer. */
#include "tinyedge_native.h"

static int8_t te_mul_one(const te_binary_params *p, int32_t x, int32_t y) {
    const int32_t product = (p->input1_offset + x) * (p->input2_offset + y);
    const int32_t out = te_requantize(product, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)te_clamp(out, p->activation_min, p->activation_max);
}

typedef int8_t (*te_binary_fn)(const te_binary_params *, int32_t, int32_t);

static void te_binary(const te_binary_params *p, const int8_t *input1, const int8_t *input2,
                      int8_t *output, te_binary_fn fn) {
    int32_t index[TE_MAX_DIMS] = {0};
    int32_t offset1 = 0, offset2 = 0;
    int32_t i, d;
    if (p->rank == 0) {
        for (i = 0; i < p->flat_size; ++i) {
            output[i] = fn(p, input1[i], input2[i]);
        }
        return;
    }
    for (i = 0; i < p->flat_size; ++i) {
        output[i] = fn(p, input1[offset1], input2[offset2]);
        /* Odometer over the output index, innermost dimension fastest. */
        for (d = p->rank - 1; d >= 0; --d) {
            ++index[d];
            offset1 += p->input1_strides[d];
            offset2 += p->input2_strides[d];
            if (index[d] < p->output_dims[d]) {
                break;
            }
            offset1 -= p->input1_strides[d] * index[d];
            offset2 -= p->input2_strides[d] * index[d];
            index[d] = 0;
        }
    }
}

void te_add_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    te_binary(p, input1, input2, output, te_add_element);
}

void te_mul_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    te_binary(p, input1, input2, output, te_mul_one);
}

/* SUB: ADD's arithmetic with the difference of the rescaled inputs. */
static int8_t te_sub_one(const te_binary_params *p, int32_t x, int32_t y) {
    const int32_t a = te_requantize(te_shift_left(p->input1_offset + x, p->left_shift), p->input1_multiplier,
                                    p->input1_shift);
    const int32_t b = te_requantize(te_shift_left(p->input2_offset + y, p->left_shift), p->input2_multiplier,
                                    p->input2_shift);
    const int32_t out = te_requantize(a - b, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)te_clamp(out, p->activation_min, p->activation_max);
}

/* SQUARED_DIFFERENCE: both inputs rescaled onto twice the larger scale (left shift 7), the square
 * rescaled to the output. */
static int8_t te_squared_difference_one(const te_binary_params *p, int32_t x, int32_t y) {
    const int32_t a = te_requantize(te_shift_left(p->input1_offset + x, p->left_shift), p->input1_multiplier,
                                    p->input1_shift);
    const int32_t b = te_requantize(te_shift_left(p->input2_offset + y, p->left_shift), p->input2_multiplier,
                                    p->input2_shift);
    const int32_t out = te_requantize((a - b) * (a - b), p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)te_clamp(out, p->activation_min, p->activation_max);
}

/* MAXIMUM and MINIMUM compare the stored values, as TFLM does (the converter gives the inputs and the
 * output one quantization). */
static int8_t te_maximum_one(const te_binary_params *p, int32_t x, int32_t y) {
    (void)p;
    return (int8_t)(x > y ? x : y);
}

static int8_t te_minimum_one(const te_binary_params *p, int32_t x, int32_t y) {
    (void)p;
    return (int8_t)(x < y ? x : y);
}

/* PRELU: input2 is alpha; input1_multiplier/shift rescale the non-negative side, output_multiplier/
 * shift the product input * alpha. */
static int8_t te_prelu_one(const te_binary_params *p, int32_t x, int32_t alpha) {
    const int32_t value = p->input1_offset + x;
    const int32_t out = value >= 0 ? te_requantize(value, p->input1_multiplier, p->input1_shift)
                                   : te_requantize(value * (p->input2_offset + alpha), p->output_multiplier,
                                                   p->output_shift);
    return (int8_t)te_clamp(out + p->output_offset, p->activation_min, p->activation_max);
}

void te_sub_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    te_binary(p, input1, input2, output, te_sub_one);
}

void te_squared_difference_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2,
                              int8_t *output) {
    te_binary(p, input1, input2, output, te_squared_difference_one);
}

void te_maximum_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    te_binary(p, input1, input2, output, te_maximum_one);
}

void te_minimum_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    te_binary(p, input1, input2, output, te_minimum_one);
}

void te_prelu_s8(const te_binary_params *p, const int8_t *input, const int8_t *alpha, int8_t *output) {
    te_binary(p, input, alpha, output, te_prelu_one);
}
