/* RELU, RELU6 (clamp), LOGISTIC, TANH, SOFTMAX and LOG_SOFTMAX for int8.
 *
 * LOGISTIC, TANH and SOFTMAX reproduce TFLM's integer implementations bit for bit, which are built
 * on gemmlowp's fixed-point exp and Newton-Raphson reciprocal. A value in "Qn" below is an int32
 * with n integer bits and 31 - n fractional bits. */
#include "tinyedge_native.h"

/* ---- fixed-point helpers ------------------------------------------------------------------------ */

static int32_t te_wrap_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t te_wrap_sub(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* x * 2^exponent, saturating (exponent > 0) or rounding to nearest (exponent < 0). */
static int32_t te_saturating_rounding_mul_pot(int32_t x, int exponent) {
    if (exponent > 0) {
        return te_saturating_shift_left(x, exponent);
    }
    if (exponent < 0) {
        return te_rounding_divide_by_pot(x, -exponent);
    }
    return x;
}

/* (a + b) / 2 rounded to nearest, ties away from zero, without overflow. */
static int32_t te_rounding_half_sum(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(a) for a in [-1/4, 0); a and the result in Q0. */
static int32_t te_exp_on_interval_neg_quarter_to_zero(int32_t a) {
    const int32_t constant_term = 1895147668;     /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;  /* 1/3 */
    const int32_t x = te_wrap_add(a, INT32_C(1) << 28);   /* a + 1/8 */
    const int32_t x2 = te_srdhm(x, x);
    const int32_t x3 = te_srdhm(x2, x);
    const int32_t x4 = te_srdhm(x2, x2);
    const int32_t x4_over_4 = te_saturating_rounding_mul_pot(x4, -2);
    const int32_t poly = te_saturating_rounding_mul_pot(
        te_wrap_add(te_srdhm(te_wrap_add(x4_over_4, x3), constant_1_over_3), x2), -1);
    return te_wrap_add(constant_term, te_srdhm(constant_term, te_wrap_add(x, poly)));
}

/* exp(a) for a <= 0; a in Q(integer_bits) with integer_bits <= 5, the result in Q0. */
static int32_t te_exp_on_negative_values(int32_t a, int integer_bits) {
    static const int32_t barrel_multipliers[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242}; /* exp(-2^k), k=-2..4 */
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = INT32_C(1) << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_quarter = te_wrap_sub(a & mask, one_quarter);
    int32_t result = te_exp_on_interval_neg_quarter_to_zero(
        te_saturating_rounding_mul_pot(a_mod_quarter_minus_quarter, integer_bits));
    const int32_t remainder = te_wrap_sub(a_mod_quarter_minus_quarter, a);
    int k;
    for (k = -2; k <= 4; ++k) {
        if (integer_bits > k) {
            const int shift = fractional_bits + k;
            if (remainder & (int32_t)(INT32_C(1) << shift)) {
                result = te_srdhm(result, barrel_multipliers[k + 2]);
            }
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* Newton-Raphson iterations shared by 1/(1+x) and (1-x)/(1+x); returns 1/(1+x) / 2 in Q2. */
static int32_t te_reciprocal_half_q2(int32_t half_denominator) {
    const int32_t constant_48_over_17 = 1515870810;   /* Q2 */
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t one_q2 = INT32_C(1) << 29;
    int32_t x = te_wrap_add(constant_48_over_17, te_srdhm(half_denominator, constant_neg_32_over_17));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = te_srdhm(half_denominator, x);
        const int32_t one_minus = te_wrap_sub(one_q2, half_denominator_times_x);
        x = te_wrap_add(x, te_saturating_rounding_mul_pot(te_srdhm(x, one_minus), 2));
    }
    return x;
}

/* 1 / (1 + a) for a in [0, 1), Q0 in and out. */
static int32_t te_one_over_one_plus_x(int32_t a) {
    const int32_t x = te_reciprocal_half_q2(te_rounding_half_sum(a, INT32_MAX));
    return te_saturating_rounding_mul_pot(x, 1);
}

/* (1 - a) / (1 + a) for a in [0, 1), Q0 in and out. */
static int32_t te_one_minus_x_over_one_plus_x(int32_t a) {
    const int32_t x = te_reciprocal_half_q2(te_rounding_half_sum(a, INT32_MAX));
    return te_saturating_rounding_mul_pot(te_wrap_sub(x, INT32_C(1) << 29), 2);
}

/* logistic(a), a in Q4, result in Q0. */
static int32_t te_fixed_logistic(int32_t a) {
    const int32_t magnitude = a > 0 ? a : -a;
    const int32_t if_positive = te_one_over_one_plus_x(te_exp_on_negative_values(-magnitude, 4));
    if (a == 0) {
        return INT32_C(1) << 30;
    }
    return a > 0 ? if_positive : te_wrap_sub(INT32_MAX, if_positive);
}

/* tanh(a), a in Q4, result in Q0. */
static int32_t te_fixed_tanh(int32_t a) {
    const int32_t negative_magnitude = a < 0 ? a : -a;
    /* exp(2 * n) for n <= 0: the same raw value read as Q5. */
    const int32_t t = te_one_minus_x_over_one_plus_x(te_exp_on_negative_values(negative_magnitude, 5));
    if (a == 0) {
        return 0;
    }
    return a < 0 ? -t : t;
}

/* ---- kernels ------------------------------------------------------------------------------------ */

void te_relu_s8(const te_relu_params *p, const int8_t *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t value = p->output_offset +
                              te_requantize((int32_t)input[i] - p->input_offset, p->multiplier, p->shift);
        output[i] = (int8_t)te_clamp(value, p->activation_min, p->activation_max);
    }
}

void te_clamp_s8(const te_relu_params *p, const int8_t *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (int8_t)te_clamp(input[i], p->activation_min, p->activation_max);
    }
}

/* LOGISTIC and TANH share TFLM's shape: saturate outside the input range, otherwise requantize the
 * input to Q4.27, evaluate the fixed-point function and round its Q0.31 result to 8 bits. They differ
 * only in the function and in how the result maps onto int8. */
static void te_sigmoid_like_s8(const te_sigmoid_params *p, const int8_t *input, int8_t *output,
                               int32_t (*fixed_function)(int32_t), int32_t result_shift,
                               int32_t result_offset) {
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t value = (int32_t)input[i] - p->input_zero_point;
        if (value <= -p->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (value >= p->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t q4 = te_requantize(value, p->input_multiplier, p->input_left_shift);
            const int32_t out = te_rounding_divide_by_pot(fixed_function(q4), result_shift) + result_offset;
            output[i] = (int8_t)te_clamp(out, INT8_MIN, INT8_MAX);
        }
    }
}

void te_logistic_s8(const te_sigmoid_params *p, const int8_t *input, int8_t *output) {
    /* Output in [0, 1) with scale 1/256 and zero point -128. */
    te_sigmoid_like_s8(p, input, output, te_fixed_logistic, 31 - 8, -128);
}

void te_tanh_s8(const te_sigmoid_params *p, const int8_t *input, int8_t *output) {
    /* Output in [-1, 1) with scale 1/128 and zero point 0. */
    te_sigmoid_like_s8(p, input, output, te_fixed_tanh, 31 - 7, 0);
}

/* The largest of a row's depth values (INT8_MIN for an empty row). */
static int32_t te_row_max(const int8_t *in, int32_t depth) {
    int32_t max_in_row = INT8_MIN;
    int32_t c;
    for (c = 0; c < depth; ++c) {
        if (in[c] > max_in_row) {
            max_in_row = in[c];
        }
    }
    return max_in_row;
}

/* exp((x - max) * beta * scale) in Q0 for a difference already known to be >= diff_min. */
static int32_t te_softmax_exp(const te_softmax_params *p, int32_t diff) {
    const int32_t rescaled = te_srdhm(te_shift_left(diff, p->input_left_shift), p->input_multiplier);
    return te_exp_on_negative_values(rescaled, 5);
}

void te_softmax_s8(const te_softmax_params *p, const int8_t *input, int8_t *output) {
    int32_t row, c;
    for (row = 0; row < p->outer_size; ++row) {
        const int8_t *in = input + (size_t)row * (size_t)p->depth;
        int8_t *out = output + (size_t)row * (size_t)p->depth;
        const int32_t max_in_row = te_row_max(in, p->depth);
        int32_t sum_of_exps = 0;   /* Q12 */
        int headroom_plus_one, bits_over_unit, exponent;
        int32_t shifted_scale;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                sum_of_exps = te_wrap_add(sum_of_exps,
                                          te_rounding_divide_by_pot(te_softmax_exp(p, diff), 12));
            }
        }
        /* 1 / sum as a Q0 mantissa and a power-of-two exponent (TFLM's GetReciprocal). */
        headroom_plus_one = te_count_leading_zeros((uint32_t)sum_of_exps);
        bits_over_unit = 12 - headroom_plus_one;
        shifted_scale = te_one_over_one_plus_x(
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - (UINT32_C(1) << 31)));
        exponent = bits_over_unit + 31 - 8;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t unsaturated =
                    te_rounding_divide_by_pot(te_srdhm(shifted_scale, te_softmax_exp(p, diff)), exponent);
                out[c] = (int8_t)te_clamp(unsaturated - 128, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
}

/* log(x) for x >= 1, x in Q12 and the result in Q5 (TFLM's log_x_for_x_greater_than_or_equal_to_1):
 * x = 2^k * r with r near 1 (two candidate splits, the one with r closer to 1 wins), log r from a
 * rational approximation in q = 2 (r - 2^-1/4). */
static int32_t te_log_q12_to_q5(int32_t x) {
    const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
    const int32_t quarter_q6 = te_saturating_rounding_mul_pot(536870912, -6);
    const int a_headroom_plus_one = te_count_leading_zeros((uint32_t)x);
    const int32_t r_a = te_saturating_rounding_mul_pot(
        te_srdhm(te_saturating_rounding_mul_pot(x, a_headroom_plus_one - 1), sqrt_half), 1);
    const int64_t a_pow_2 = (int64_t)te_saturating_rounding_mul_pot(12 - a_headroom_plus_one, 25) + quarter_q6;
    const int b_headroom = te_count_leading_zeros((uint32_t)te_srdhm(x, sqrt_half)) - 1;
    const int32_t r_b = te_saturating_rounding_mul_pot(x, b_headroom);
    const int64_t b_pow_2 = (int64_t)te_saturating_rounding_mul_pot(12 - b_headroom, 25) - quarter_q6;
    const int32_t r = r_a < r_b ? r_a : r_b;
    const int64_t pow_2_wide = a_pow_2 > b_pow_2 ? a_pow_2 : b_pow_2;   /* both saturate to int32 */
    const int32_t pow_2 = (int32_t)(pow_2_wide > INT32_MAX ? INT32_MAX : (pow_2_wide < INT32_MIN ? INT32_MIN
                                                                                           : pow_2_wide));
    const int32_t p = te_rounding_half_sum(r, sqrt_sqrt_half);
    const int32_t q = te_wrap_add(te_wrap_sub(r, sqrt_sqrt_half), te_wrap_sub(r, sqrt_sqrt_half));
    const int32_t q_squared = te_srdhm(q, q);
    const int32_t num = te_wrap_add(te_srdhm(q, r), te_srdhm(te_srdhm(q, q_squared), alpha_n));
    const int32_t denominator_minus_one = te_wrap_add(
        te_srdhm(p, te_wrap_add(te_wrap_add(alpha_i, q), te_srdhm(alpha_d, q_squared))), te_srdhm(alpha_f, q));
    const int32_t reciprocal = te_one_over_one_plus_x(denominator_minus_one);
    const int32_t num_q6 = te_saturating_rounding_mul_pot(num, -6);
    return te_saturating_rounding_mul_pot(te_wrap_add(te_srdhm(pow_2, log_2), te_srdhm(num_q6, reciprocal)), 1);
}

/* LOG_SOFTMAX as TFLM's LogSoftmaxQuantized: the output has scale 16/256 and zero point 127. */
void te_log_softmax_s8(const te_log_softmax_params *p, const int8_t *input, int8_t *output) {
    int32_t row, c;
    for (row = 0; row < p->outer_size; ++row) {
        const int8_t *in = input + (size_t)row * (size_t)p->depth;
        int8_t *out = output + (size_t)row * (size_t)p->depth;
        const int32_t max_in_row = te_row_max(in, p->depth);
        int32_t sum_of_exps = 0;   /* Q12 */
        int32_t log_sum, adjusted_diff_min, reverse;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t diff_q5 = te_requantize(diff, p->input_multiplier, p->input_left_shift);
                sum_of_exps = te_wrap_add(sum_of_exps,
                                          te_rounding_divide_by_pot(te_exp_on_negative_values(diff_q5, 5), 12));
            }
        }
        log_sum = te_log_q12_to_q5(sum_of_exps);
        reverse = te_requantize(te_wrap_add(log_sum, INT32_MIN), p->reverse_multiplier, p->reverse_shift);
        adjusted_diff_min = p->diff_min - 1 > reverse ? p->diff_min - 1 : reverse;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff > adjusted_diff_min) {
                const int32_t diff_q5 = te_requantize(diff, p->input_multiplier, p->input_left_shift);
                const int32_t value = te_rounding_divide_by_pot(te_wrap_sub(diff_q5, log_sum), 31 - 5 - 4) + 127;
                out[c] = (int8_t)te_clamp(value, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
}
