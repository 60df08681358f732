/* tinyedge native runtime: interpreter-free int8 kernels.
 *
 * Each kernel takes a plain params struct (filled at code-generation time, usually `static const`)
 * plus data pointers, so a target can replace one kernel with a faster one (for example SMLAD
 * paths on a Cortex-M4) without touching the generated model code.
 *
 * The arithmetic is TFLite Micro's reference integer arithmetic, reproduced exactly: requantization
 * with double rounding (a saturating rounding doubling high multiply, then a rounding divide by a
 * power of two), and gemmlowp's fixed-point exp / logistic / tanh for the non-linear ops.
 * The kernels assume arithmetic right shifts of negative values (true of every compiler tinyedge
 * targets; C99 leaves it implementation-defined).
 */
#ifndef TINYEDGE_NATIVE_H
#define TINYEDGE_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TE_ALIGNED(n) __attribute__((aligned(n)))
#else
#define TE_ALIGNED(n)
#endif

/* Largest rank the shape-generic kernels (broadcast, pad, mean) handle. */
#define TE_MAX_DIMS 6

/* ---- requantization helpers (TFLM's double-rounding semantics) -------------------------------- */

/* (a * b * 2) / 2^32 rounded to nearest, saturating the single overflow case (ARM VQRDMULH). */
static inline int32_t te_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    {
        const int64_t product = (int64_t)a * (int64_t)b;
        const int64_t nudge = product >= 0 ? (INT64_C(1) << 30) : (INT64_C(1) - (INT64_C(1) << 30));
        return (int32_t)((product + nudge) / (INT64_C(1) << 31));
    }
}

/* x / 2^exponent rounded to nearest, ties away from zero. */
static inline int32_t te_rounding_divide_by_pot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)((INT64_C(1) << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^shift for shift >= 0, wrapping like the two's-complement multiply TFLM performs. */
static inline int32_t te_shift_left(int32_t x, int shift) {
    return (int32_t)((uint32_t)x << shift);
}

/* x * multiplier * 2^shift, multiplier in Q0.31 (TFLM's MultiplyByQuantizedMultiplier). */
static inline int32_t te_requantize(int32_t x, int32_t multiplier, int32_t shift) {
    const int left = shift > 0 ? (int)shift : 0;
    const int right = shift > 0 ? 0 : (int)-shift;
    return te_rounding_divide_by_pot(te_srdhm(te_shift_left(x, left), multiplier), right);
}

static inline int32_t te_clamp(int32_t x, int32_t low, int32_t high) {
    return x < low ? low : (x > high ? high : x);
}

/* x * 2^exponent for 0 < exponent < 31, saturating (gemmlowp's SaturatingRoundingMultiplyByPOT for a
 * positive exponent). */
static inline int32_t te_saturating_shift_left(int32_t x, int exponent) {
    const int32_t threshold = (int32_t)((INT32_C(1) << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return te_shift_left(x, exponent);
}

/* The number of leading zero bits of x (32 for 0). */
static inline int te_count_leading_zeros(uint32_t x) {
    int count = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & UINT32_C(0x80000000)) == 0) {
        x <<= 1;
        ++count;
    }
    return count;
}

/* ---- convolutions (te_conv.c) ------------------------------------------------------------------ */

/* te_params: te_conv_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t output_height;
    int32_t output_width;
    int32_t output_depth;
    int32_t filter_height;
    int32_t filter_width;
    int32_t filter_input_depth;        /* CONV_2D: input_depth / groups; unused by depthwise */
    int32_t depth_multiplier;          /* DEPTHWISE_CONV_2D only */
    int32_t stride_height;
    int32_t stride_width;
    int32_t dilation_height;
    int32_t dilation_width;
    int32_t pad_height;                /* leading padding; trailing padding is implied by the shapes */
    int32_t pad_width;
    int32_t input_offset;              /* -input zero point */
    int32_t output_offset;             /* output zero point */
    int32_t activation_min;
    int32_t activation_max;
    const int32_t *multipliers;        /* one per output channel */
    const int32_t *shifts;             /* one per output channel */
} te_conv_params;

/* Filter layout OHWI; input and output NHWC. `bias` may be NULL. */
void te_conv2d_s8(const te_conv_params *p, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, int8_t *output);
/* Filter layout 1HW(I*M). `bias` may be NULL. */
void te_depthwise_conv2d_s8(const te_conv_params *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, int8_t *output);

/* ---- fully connected (te_fully_connected.c) ---------------------------------------------------- */

/* te_params: te_fully_connected_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t batches;
    int32_t accum_depth;
    int32_t output_depth;
    int32_t input_offset;
    int32_t filter_offset;
    int32_t output_offset;
    int32_t activation_min;
    int32_t activation_max;
    const int32_t *multipliers;        /* one per output channel (per-tensor models repeat it) */
    const int32_t *shifts;
} te_fully_connected_params;

/* Filter layout [output_depth][accum_depth]. `bias` may be NULL. */
void te_fully_connected_s8(const te_fully_connected_params *p, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int8_t *output);

/* ---- pooling (te_pooling.c) -------------------------------------------------------------------- */

/* te_params: te_pool_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t depth;
    int32_t output_height;
    int32_t output_width;
    int32_t filter_height;
    int32_t filter_width;
    int32_t stride_height;
    int32_t stride_width;
    int32_t pad_height;
    int32_t pad_width;
    int32_t activation_min;
    int32_t activation_max;
} te_pool_params;

void te_average_pool_s8(const te_pool_params *p, const int8_t *input, int8_t *output);
void te_max_pool_s8(const te_pool_params *p, const int8_t *input, int8_t *output);

/* ---- element-wise binary ops with broadcasting (te_elementwise.c) ------------------------------ */

/* te_params: te_binary_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t flat_size;                 /* output elements */
    int32_t rank;                      /* dims used below, <= TE_MAX_DIMS; 0: same shapes */
    int32_t output_dims[TE_MAX_DIMS];
    int32_t input1_strides[TE_MAX_DIMS]; /* 0 along broadcast dimensions */
    int32_t input2_strides[TE_MAX_DIMS];
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t left_shift;                /* ADD, SUB, SQUARED_DIFFERENCE */
    int32_t input1_multiplier;         /* ADD, SUB, SQUARED_DIFFERENCE; PRELU: the rescale of inputs >= 0 */
    int32_t input1_shift;              /* ADD only */
    int32_t input2_multiplier;         /* ADD only */
    int32_t input2_shift;              /* ADD only */
    int32_t output_multiplier;         /* PRELU: the rescale of input * alpha */
    int32_t output_shift;
    int32_t activation_min;
    int32_t activation_max;
} te_binary_params;

/* One element of ADD (TFLM's int8 arithmetic): shared by te_add_s8 and the convolution that has an
 * ADD fused into it. */
static inline int8_t te_add_element(const te_binary_params *p, int32_t x, int32_t y) {
    const int32_t a = te_shift_left(p->input1_offset + x, p->left_shift);
    const int32_t b = te_shift_left(p->input2_offset + y, p->left_shift);
    const int32_t scaled_a = te_rounding_divide_by_pot(te_srdhm(a, p->input1_multiplier), -p->input1_shift);
    const int32_t scaled_b = te_rounding_divide_by_pot(te_srdhm(b, p->input2_multiplier), -p->input2_shift);
    const int32_t out = te_rounding_divide_by_pot(te_srdhm(scaled_a + scaled_b, p->output_multiplier),
                                                  -p->output_shift) + p->output_offset;
    return (int8_t)te_clamp(out, p->activation_min, p->activation_max);
}

void te_add_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void te_mul_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void te_sub_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void te_squared_difference_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2,
                              int8_t *output);
void te_maximum_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void te_minimum_s8(const te_binary_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void te_prelu_s8(const te_binary_params *p, const int8_t *input, const int8_t *alpha, int8_t *output);

/* te_params: te_requant (generated from tinyedge/codegen/params.py; edit it there) */
/* Per-channel requantization rearranged by the generator for the fast kernels (see te_requant_apply
 * in te_simd.h for the arithmetic and codegen/fast.py for the bounds that make it exact). */
typedef struct te_requant_s {
    int32_t multiplier;
    int32_t left_shift;                /* >= 1 */
    int32_t addend;                    /* 2^(right_shift - 1) + (output offset << right_shift) */
    int32_t right_shift;               /* >= 1 */
} te_requant;

/* ---- fast paths (te_conv_fast.c, te_depthwise_fast.c, te_fully_connected_fast.c) ----------------
 *
 * The generator picks these when a layer fits them and has rearranged the weights for them: the bias
 * already holds bias - input_zero_point * sum(weights) (so the inner loops are pure multiply-adds of
 * raw int8 values, and padding is the input zero point), weight rows are zero-padded to a multiple of
 * four bytes, and it has proven that te_requant reproduces TFLM's requantization exactly. Built with
 * SMLAD/SXTB16 where __ARM_FEATURE_DSP is defined, portable C elsewhere: the same results either way. */

/* te_params: te_fast_conv_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t output_height;
    int32_t output_width;
    int32_t output_depth;
    int32_t filter_height;
    int32_t filter_width;
    int32_t stride_height;
    int32_t stride_width;
    int32_t pad_height;
    int32_t pad_width;
    int32_t row_pairs;                 /* filter_height * filter_width * input_depth / 2, rounded up to even */
    int32_t chunked;                   /* input depth a multiple of 4: pairs (0, 2), (1, 3) per 4 values */
    int32_t input_zero_point;          /* what the padding reads as */
    int32_t activation_min;
    int32_t activation_max;
    const int32_t *bias;               /* folded, one per output channel */
    const te_requant *requant;         /* one per output channel */
    /* a fused ADD (the step is given a residual): output = ADD(conv, residual) computed as
     * add_requant(conv_table[conv + 128] + residual_table[residual + 128]) clamped to the ADD's
     * range; NULL without one */
    const int32_t *conv_table;
    const int32_t *residual_table;
    te_requant add_requant;
    int32_t add_min;
    int32_t add_max;
} te_fast_conv_params;

/* CONV_2D (batch 1, no dilation), two output pixels at a time. `scratch` holds 10 * row_pairs bytes:
 * both pixels' receptive fields widened to int16 pairs and interleaved word by word, then a byte
 * staging row. Filter (uint32 words, int16 pairs): per pair of output channels, pair j of channel 0
 * then pair j of channel 1; an odd last channel is a plain row of pairs. Pairs follow the widened
 * row's order: (0, 2), (1, 3) per 4 values when `chunked`, natural order otherwise. Each pixel pair
 * is widened before any of its outputs is written, so a 1x1 convolution may write over its own input
 * (the planner uses that); with a residual, `output` may be `residual`. */
void te_conv_fast_s8(const te_fast_conv_params *p, const int8_t *input, const uint32_t *filter,
                     int8_t *scratch, const int8_t *residual, int8_t *output);

/* The same with the weights int8 (runtime.optimize = "size"): per channel pair, per two pairs of the
 * row, channel 0's and channel 1's word of four int8; a word's bytes 0 and 2 are the first pair (in the
 * row's pair order), bytes 1 and 3 the second. An odd last channel is a plain row of such words. */
void te_conv_packed_s8(const te_fast_conv_params *p, const int8_t *input, const uint32_t *filter,
                       int8_t *scratch, const int8_t *residual, int8_t *output);

/* te_params: te_depthwise3x3_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t input_height;
    int32_t input_width;
    int32_t depth;
    int32_t output_height;
    int32_t output_width;
    int32_t stride_height;
    int32_t stride_width;
    int32_t pad_height;
    int32_t pad_width;
    int32_t input_zero_point;
    int32_t activation_min;
    int32_t activation_max;
    int32_t full_range;                /* the activation range is [-128, 127] */
    const int32_t *bias;               /* folded */
    const te_requant *requant;         /* one per channel */
} te_depthwise3x3_params;

/* DEPTHWISE_CONV_2D 3x3, depth multiplier 1, depth a multiple of 4, batch 1. Filter: for each group
 * of four channels, for each of the 9 taps, two pairs (c0, c2) and (c1, c3) of int16 weights. */
void te_depthwise3x3_fast_s8(const te_depthwise3x3_params *p, const int8_t *input,
                             const uint32_t *filter, int8_t *output);

/* te_params: te_fast_fully_connected_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t batches;
    int32_t accum_depth;               /* a multiple of 4 */
    int32_t output_depth;
    int32_t activation_min;
    int32_t activation_max;
    const int32_t *bias;               /* folded */
    const te_requant *requant;         /* one per output channel, or one for all (requant_step 0) */
    int32_t requant_step;              /* 1, or 0 when every channel has the same entry (per-tensor quantization) */
} te_fast_fully_connected_params;

/* FULLY_CONNECTED with a symmetric filter. Filter (uint32 words, int16 pairs): rows in groups of
 * four, per 4 values of depth each row's pairs (0, 2) and (1, 3) in turn; the rows after the last full
 * group are plain rows of such pairs. */
void te_fully_connected_fast_s8(const te_fast_fully_connected_params *p, const int8_t *input,
                                const uint32_t *filter, int8_t *output);

/* The same with the weights int8 (runtime.optimize = "size"): filter words of four int8 weights, rows in
 * groups of four, per 4 values of depth each row's word in turn; the rows after the last full group
 * are plain rows of such words. */
void te_fully_connected_packed_s8(const te_fast_fully_connected_params *p, const int8_t *input,
                                  const uint32_t *filter, int8_t *output);

/* ---- activations (te_activations.c) ------------------------------------------------------------ */

/* te_params: te_relu_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t size;
    int32_t input_offset;              /* input zero point */
    int32_t output_offset;             /* output zero point */
    int32_t multiplier;
    int32_t shift;
    int32_t activation_min;
    int32_t activation_max;
} te_relu_params;

/* RELU with requantization (input and output scales may differ). */
void te_relu_s8(const te_relu_params *p, const int8_t *input, int8_t *output);
/* RELU6 and other plain clamps: output = clamp(input, activation_min, activation_max). */
void te_clamp_s8(const te_relu_params *p, const int8_t *input, int8_t *output);

/* te_params: te_sigmoid_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t input_range_radius;
    int32_t input_multiplier;
    int32_t input_left_shift;
} te_sigmoid_params;

void te_logistic_s8(const te_sigmoid_params *p, const int8_t *input, int8_t *output);
void te_tanh_s8(const te_sigmoid_params *p, const int8_t *input, int8_t *output);

/* te_params: te_softmax_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t outer_size;
    int32_t depth;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} te_softmax_params;

void te_softmax_s8(const te_softmax_params *p, const int8_t *input, int8_t *output);

/* te_params: te_log_softmax_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t outer_size;
    int32_t depth;
    int32_t input_multiplier;          /* the input difference to Q5 */
    int32_t input_left_shift;
    int32_t reverse_multiplier;        /* Q5 back to the input scale (TFLM's reverse scaling divisor) */
    int32_t reverse_shift;             /* <= 0 */
    int32_t diff_min;
} te_log_softmax_params;

void te_log_softmax_s8(const te_log_softmax_params *p, const int8_t *input, int8_t *output);

/* ---- reductions (te_reduce.c) ------------------------------------------------------------------ */

/* te_params: te_mean_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t kept_rank;                 /* dimensions that stay, outermost first */
    int32_t kept_dims[TE_MAX_DIMS];
    int32_t kept_strides[TE_MAX_DIMS]; /* input strides of those dimensions */
    int32_t reduced_rank;
    int32_t reduced_dims[TE_MAX_DIMS];
    int32_t reduced_strides[TE_MAX_DIMS];
    int32_t reduced_count;             /* product of reduced_dims */
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier;                /* already divided by reduced_count */
    int32_t shift;
} te_mean_params;

void te_mean_s8(const te_mean_params *p, const int8_t *input, int8_t *output);

/* ---- data movement (te_layout.c) --------------------------------------------------------------- */

/* te_params: te_pad_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t rank;
    int32_t input_dims[TE_MAX_DIMS];
    int32_t before[TE_MAX_DIMS];
    int32_t after[TE_MAX_DIMS];
    int8_t pad_value;
} te_pad_params;

void te_pad_s8(const te_pad_params *p, const int8_t *input, int8_t *output);

/* te_params: te_concat_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t count;                     /* inputs */
    int32_t outer_size;                /* product of the dims before the axis */
    const int32_t *copy_sizes;         /* per input: its dim along the axis times the inner size (bytes) */
} te_concat_params;

void te_concatenation_s8(const te_concat_params *p, const int8_t *const *inputs, int8_t *output);

/* te_params: te_space_batch_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t input_batch;
    int32_t input_height;
    int32_t input_width;
    int32_t depth;
    int32_t output_batch;
    int32_t output_height;
    int32_t output_width;
    int32_t block_height;
    int32_t block_width;
    int32_t pad_top;                   /* SPACE_TO_BATCH_ND: leading padding */
    int32_t pad_left;
    int32_t crop_top;                  /* BATCH_TO_SPACE_ND: leading crops */
    int32_t crop_left;
    int8_t pad_value;
} te_space_batch_params;

void te_space_to_batch_s8(const te_space_batch_params *p, const int8_t *input, int8_t *output);
void te_batch_to_space_s8(const te_space_batch_params *p, const int8_t *input, int8_t *output);

void te_copy(const void *input, void *output, size_t bytes);

/* ---- quantization (te_quantize.c) -------------------------------------------------------------- */

/* te_params: te_quantize_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier;                /* requantize only */
    int32_t shift;                     /* requantize only */
    float scale;                       /* quantize: output scale; dequantize: input scale */
} te_quantize_params;

void te_quantize_f32_s8(const te_quantize_params *p, const float *input, int8_t *output);
void te_dequantize_s8_f32(const te_quantize_params *p, const int8_t *input, float *output);
void te_requantize_s8(const te_quantize_params *p, const int8_t *input, int8_t *output);

/* ---- layout and resampling (te_layout2.c) ------------------------------------------------------ */

/* te_params: te_strided_copy_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t rank;                      /* output dimensions used, >= 1 */
    int32_t output_dims[TE_MAX_DIMS];
    int32_t input_strides[TE_MAX_DIMS]; /* input elements between neighbours along each output dimension (< 0 reverses) */
    int32_t input_offset;              /* input element of output element 0 */
} te_strided_copy_params;

/* te_params: te_gather_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t outer_size;                /* product of the input dims before the axis */
    int32_t axis_size;
    int32_t inner_size;                /* product of the input dims after the axis (bytes copied per index) */
    int32_t count;                     /* indices */
    const int32_t *indices;            /* each in [0, axis_size) */
} te_gather_params;

/* te_params: te_resize_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t depth;
    int32_t output_height;
    int32_t output_width;
    const int32_t *y_lower;            /* per output row: the input row (nearest) or the upper-left one (bilinear) */
    const int32_t *y_upper;            /* bilinear only (NULL for nearest) */
    const int32_t *y_fraction;         /* bilinear only: the weight of y_upper in 1/1024ths */
    const int32_t *x_lower;
    const int32_t *x_upper;
    const int32_t *x_fraction;
} te_resize_params;

void te_strided_copy_s8(const te_strided_copy_params *p, const int8_t *input, int8_t *output);
void te_gather_s8(const te_gather_params *p, const int8_t *input, int8_t *output);
void te_resize_nearest_s8(const te_resize_params *p, const int8_t *input, int8_t *output);
void te_resize_bilinear_s8(const te_resize_params *p, const int8_t *input, int8_t *output);

/* ---- element-wise activations, normalization and arg max/min (te_elementwise2.c) --------------- */

/* te_params: te_hard_swish_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t reluish_multiplier;        /* int16 fixed point: the input on a scale where 3.0 is 32768 */
    int32_t reluish_exponent;
    int32_t output_multiplier;         /* int16 fixed point: the input (times 128) on the output scale */
    int32_t output_exponent;           /* <= 0 */
} te_hard_swish_params;

/* te_params: te_leaky_relu_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t identity_multiplier;       /* input >= zero point: input scale / output scale */
    int32_t identity_shift;
    int32_t alpha_multiplier;          /* below it: alpha * input scale / output scale */
    int32_t alpha_shift;
} te_leaky_relu_params;

/* te_params: te_rsqrt_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier;                /* 1 / (sqrt(input scale) * output scale) */
    int32_t shift;
} te_rsqrt_params;

/* te_params: te_l2_norm_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t outer_size;
    int32_t depth;                     /* the last dimension, normalized */
    int32_t input_zero_point;
} te_l2_norm_params;

/* te_params: te_arg_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t outer_size;                /* product of the dims before the axis */
    int32_t axis_size;
    int32_t inner_size;                /* product of the dims after the axis */
    int32_t int64_output;              /* 1: the output is int64, 0: int32 */
} te_arg_params;

void te_hard_swish_s8(const te_hard_swish_params *p, const int8_t *input, int8_t *output);
void te_leaky_relu_s8(const te_leaky_relu_params *p, const int8_t *input, int8_t *output);
void te_rsqrt_s8(const te_rsqrt_params *p, const int8_t *input, int8_t *output);
void te_l2_normalization_s8(const te_l2_norm_params *p, const int8_t *input, int8_t *output);
/* output: int32_t or int64_t values (p->int64_output) */
void te_arg_max_s8(const te_arg_params *p, const int8_t *input, void *output);
void te_arg_min_s8(const te_arg_params *p, const int8_t *input, void *output);

/* ---- matrix and sequence ops (te_matrix.c, te_lstm.c) ------------------------------------------ */

/* te_params: te_transpose_conv_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t batches;
    int32_t input_height;
    int32_t input_width;
    int32_t input_depth;
    int32_t output_height;
    int32_t output_width;
    int32_t output_depth;
    int32_t filter_height;
    int32_t filter_width;
    int32_t stride_height;
    int32_t stride_width;
    int32_t pad_height;                /* leading padding of the output, as TFLM computes it from the output size */
    int32_t pad_width;
    int32_t input_offset;              /* -input zero point */
    int32_t output_offset;             /* output zero point */
    int32_t activation_min;
    int32_t activation_max;
    const int32_t *multipliers;        /* one per output channel */
    const int32_t *shifts;             /* one per output channel */
} te_transpose_conv_params;

/* Filter layout OHWI (output channels first), input and output NHWC. `bias` may be NULL. scratch:
 * 2 * filter_height * filter_width int32. */
void te_transpose_conv_s8(const te_transpose_conv_params *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, int8_t *scratch, int8_t *output);

/* te_params: te_batch_matmul_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t batches;                   /* product of the output's batch dimensions */
    int32_t rows;
    int32_t cols;
    int32_t depth;
    int32_t lhs_row_stride;            /* adj_x swaps these two */
    int32_t lhs_depth_stride;
    int32_t rhs_depth_stride;          /* adj_y swaps these two */
    int32_t rhs_col_stride;
    int32_t lhs_offset;                /* -lhs zero point */
    int32_t rhs_offset;                /* -rhs zero point */
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
    const int32_t *lhs_batch_offsets;  /* per output batch: where its lhs matrix starts (broadcast) */
    const int32_t *rhs_batch_offsets;
} te_batch_matmul_params;

void te_batch_matmul_s8(const te_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *output);

/* te_params: te_lstm_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t batches;
    int32_t time_steps;
    int32_t input_size;
    int32_t state_size;
    int32_t time_major;
    int32_t input_offset;              /* -input zero point */
    int32_t input_multipliers[TE_MAX_DIMS]; /* per gate (input, forget, cell, output): input FC to int16 at 2^-12 */
    int32_t input_shifts[TE_MAX_DIMS];
    int32_t recurrent_multipliers[TE_MAX_DIMS]; /* per gate: recurrent FC to int16 at 2^-12 */
    int32_t recurrent_shifts[TE_MAX_DIMS];
    int32_t cell_gate_sigmoid;         /* the cell gate's activation: 1 sigmoid, 0 tanh */
    int32_t forget_multiplier;         /* forget gate * cell state -> cell scale */
    int32_t forget_shift;
    int32_t input_gate_multiplier;     /* input gate * cell gate -> cell scale */
    int32_t input_gate_shift;
    int32_t cell_clip_enabled;
    int32_t cell_clip;                 /* quantized to the cell scale */
    int32_t cell_tanh_multiplier;      /* tanh of the cell state: (x * multiplier + round) >> shift */
    int32_t cell_tanh_shift;
    int32_t hidden_multiplier;         /* tanh(cell) * output gate -> hidden scale */
    int32_t hidden_shift;
    int32_t hidden_zero_point;
    const uint16_t *sigmoid_table;     /* sigmoid(i / 24) in 0.16, 256 entries */
    /* per gate and unit: bias + input_offset * sum(w), then (4 gates
     * later) -hidden_zero_point * sum(recurrent w) */
    const int32_t *gate_offsets;
} te_lstm_params;

/* weights: input_to_{input, forget, cell, output}, recurrent_to_{input, forget, cell, output} (the
 * biases are folded in p->gate_offsets); the states are the op's variable tensors, reset at each
 * invoke; scratch: 4 * rows * state_size int16 (rows: the batch when time-major, else 1). */
void te_lstm_s8(const te_lstm_params *p, const int8_t *const *weights, const int8_t *input,
                int8_t *hidden_state, int16_t *cell_state, int8_t *scratch, int8_t *output);

/* te_params: te_svdf_params (generated from tinyedge/codegen/params.py; edit it there) */
typedef struct {
    int32_t batches;
    int32_t input_size;
    int32_t num_units;
    int32_t rank;                      /* filters = num_units * rank */
    int32_t memory_size;
    int32_t input_zero_point;
    int32_t state_zero_point;
    int32_t output_zero_point;
    int32_t feature_multiplier;        /* input * feature weights -> state scale */
    int32_t feature_shift;
    int32_t output_multiplier;         /* state * time weights -> output scale */
    int32_t output_shift;
} te_svdf_params;

/* state: the op's int16 variable tensor [batches][filters][memory_size], reset at each invoke. */
void te_svdf_s8(const te_svdf_params *p, const int8_t *input, const int8_t *weights_feature,
                const int16_t *weights_time, const int32_t *bias, int16_t *state, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYEDGE_NATIVE_H */
