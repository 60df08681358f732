/* HARD_SWISH, LEAKY_RELU, RSQRT, L2_NORMALIZATION, ARG_MAX and ARG_MIN for int8, bit for bit as
 * TFLM's reference kernels compute them (HARD_SWISH in 16-bit fixed point, RSQRT and
 * L2_NORMALIZATION through TFLM's Newton-Raphson inverse square root). A value in "Qn" below is an
 * int32 with n integer bits and 31 - n fractional bits. */
#include "tinyedge_native.h"

/* ---- helpers ------------------------------------------------------------------------------------ */

/* value * 2^amount clamped to int16 (TFLM's SaturatingLeftShift, computed in 64 bits). */
static int16_t te_saturating_left_shift16(int16_t value, int amount) {
    const int64_t shifted = (int64_t)value * ((int64_t)1 << amount);
    return (int16_t)(shifted > INT16_MAX ? INT16_MAX : (shifted < INT16_MIN ? INT16_MIN : shifted));
}

/* gemmlowp's 16-bit SaturatingRoundingDoublingHighMul. */
static int16_t te_srdhm16(int16_t a, int16_t b) {
    const int32_t product = (int32_t)a * (int32_t)b;
    const int32_t nudge = product >= 0 ? (1 << 14) : (1 - (1 << 14));
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    return (int16_t)((product + nudge) / (1 << 15));
}

/* The same without rounding (TFLM's SaturatingDoublingHighMul, which cancels the bias of the above). */
static int16_t te_sdhm16(int16_t a, int16_t b) {
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

/* 1 / sqrt(input) as a Q0 multiplier and a shift for te_requantize (TFLM's
 * GetInvSqrtQuantizedMultiplierExp with reverse shift -1): five Newton-Raphson steps in Q3. */
static void te_inv_sqrt(int32_t input, int32_t *multiplier, int32_t *shift) {
    const int32_t half_three = (INT32_C(1) << 28) + (INT32_C(1) << 27);   /* 1.5 in Q3 */
    int32_t exponent = 11;
    int32_t x = INT32_C(1) << 28;                                         /* 1.0 in Q3 */
    int32_t half_input;
    int pairs, i;
    if (input <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    while (input >= (INT32_C(1) << 29)) {
        input /= 4;
        ++exponent;
    }
    pairs = (te_count_leading_zeros((uint32_t)input) - 1) / 2 - 1;
    exponent -= pairs;
    input = te_shift_left(input, 2 * pairs);
    half_input = te_rounding_divide_by_pot(input >> 1, 1);
    for (i = 0; i < 5; ++i) {
        const int32_t x3 = te_saturating_shift_left(te_srdhm(te_srdhm(x, x), x), 6);
        const int32_t step = (int32_t)((uint32_t)te_srdhm(half_three, x) - (uint32_t)te_srdhm(half_input, x3));
        x = te_saturating_shift_left(step, 3);
    }
    x = te_srdhm(x, 1518500250);   /* sqrt(2) / 2 in Q0 */
    if (exponent < 0) {
        x = te_shift_left(x, (int)-exponent);
        exponent = 0;
    }
    *multiplier = x;
    *shift = -exponent;
}

/* ---- kernels ------------------------------------------------------------------------------------ */

void te_hard_swish_s8(const te_hard_swish_params *p, const int8_t *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int16_t hires = (int16_t)(((int32_t)input[i] - p->input_zero_point) * 128);
        const int16_t preshift_output = te_srdhm16(hires, (int16_t)p->output_multiplier);
        int16_t reluish = hires;
        int16_t value;
        /* hires * 3/32768-scale, saturating where TFLM saturates: all but the last bit of a left
         * shift before the multiply, the last one after it */
        if (p->reluish_exponent > 0) {
            reluish = te_saturating_left_shift16(reluish, (int)p->reluish_exponent - 1);
        }
        reluish = te_srdhm16(reluish, (int16_t)p->reluish_multiplier);
        if (p->reluish_exponent > 0) {
            reluish = te_saturating_left_shift16(reluish, 1);
        } else if (p->reluish_exponent < 0) {
            reluish = (int16_t)te_rounding_divide_by_pot(reluish, (int)-p->reluish_exponent);
        }
        reluish = (int16_t)(((int32_t)reluish + (1 << 15)) >> 1);   /* [-1, 1] -> [0, 1] */
        value = (int16_t)te_rounding_divide_by_pot(te_sdhm16(reluish, preshift_output), (int)-p->output_exponent);
        value = (int16_t)(value + p->output_zero_point);           /* int16 as in TFLM */
        output[i] = (int8_t)te_clamp(value, INT8_MIN, INT8_MAX);
    }
}

void te_leaky_relu_s8(const te_leaky_relu_params *p, const int8_t *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t value = (int32_t)input[i] - p->input_zero_point;
        const int32_t scaled = value >= 0 ? te_requantize(value, p->identity_multiplier, p->identity_shift)
                                          : te_requantize(value, p->alpha_multiplier, p->alpha_shift);
        output[i] = (int8_t)te_clamp(p->output_zero_point + scaled, INT8_MIN, INT8_MAX);
    }
}

/* TFLM refuses to invoke on an input below the zero point; such a value is computed here as if it
 * were 1 (its inverse square root path for inputs <= 1). */
void te_rsqrt_s8(const te_rsqrt_params *p, const int8_t *input, int8_t *output) {
    const int32_t headroom = 20;   /* TFLM's kShift: keeps 1/sqrt an integer */
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t value = (int32_t)input[i] - p->input_zero_point;
        int32_t multiplier, shift, inverse;
        if (value == 0) {
            output[i] = INT8_MAX;
            continue;
        }
        te_inv_sqrt(value, &multiplier, &shift);
        inverse = te_requantize(1, multiplier, shift + headroom);
        output[i] = (int8_t)te_clamp(te_requantize(inverse, p->multiplier, p->shift - headroom) +
                                     p->output_zero_point, INT8_MIN, INT8_MAX);
    }
}

/* Output scale 1/128, zero point 0 (TFLM requires both). */
void te_l2_normalization_s8(const te_l2_norm_params *p, const int8_t *input, int8_t *output) {
    int32_t row, c;
    for (row = 0; row < p->outer_size; ++row) {
        const int8_t *in = input + (size_t)row * (size_t)p->depth;
        int8_t *out = output + (size_t)row * (size_t)p->depth;
        int32_t squares = 0, multiplier, shift;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - p->input_zero_point;
            squares += diff * diff;
        }
        te_inv_sqrt(squares, &multiplier, &shift);
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - p->input_zero_point;
            out[c] = (int8_t)te_clamp(te_requantize(diff, multiplier, shift + 7), INT8_MIN, INT8_MAX);
        }
    }
}

/* The index of the first largest (or smallest) value along the axis, as int32 or int64. */
static void te_arg_extreme(const te_arg_params *p, const int8_t *input, void *output, int want_max) {
    int32_t outer, inner, k;
    for (outer = 0; outer < p->outer_size; ++outer) {
        for (inner = 0; inner < p->inner_size; ++inner) {
            const int8_t *in = input + (size_t)outer * (size_t)p->axis_size * (size_t)p->inner_size + inner;
            const size_t position = (size_t)outer * (size_t)p->inner_size + (size_t)inner;
            int32_t best = in[0], best_index = 0;
            for (k = 1; k < p->axis_size; ++k) {
                const int32_t value = in[(size_t)k * (size_t)p->inner_size];
                if (want_max ? value > best : value < best) {
                    best = value;
                    best_index = k;
                }
            }
            if (p->int64_output) {
                ((int64_t *)output)[position] = best_index;
            } else {
                ((int32_t *)output)[position] = best_index;
            }
        }
    }
}

void te_arg_max_s8(const te_arg_params *p, const int8_t *input, void *output) {
    te_arg_extreme(p, input, output, 1);
}

void te_arg_min_s8(const te_arg_params *p, const int8_t *input, void *output) {
    te_arg_extreme(p, input, output, 0);
}
