/* CONV_2D fast path. Two output pixels at a time: their receptive fields are widened once to int16
 * pairs in `scratch`, interleaved word by word (pixel a, pixel b, pixel a, ...), and shared by every
 * output channel; channels go in pairs against filter rows the generator stored already widened and
 * interleaved the same way. Per two input values: two loads (LDRD) and four SMLAD for eight
 * multiply-adds. The packed variant (runtime.optimize = "size") keeps the weights int8, half the flash:
 * each word holds two pairs, widened by two SXTB16 in the loop. The requantization is te_requant
 * (te_simd.h). See tinyedge_native.h for the layouts. */
#include "te_simd.h"
#include "tinyedge_native.h"

/* The receptive field of output pixel `pixel` into slot `slot` (0 or 1) of the interleaved rows.
 * Chunked layers (input depth a multiple of 4) widen each input word with SXTB16 into the pairs
 * (0, 2) and (1, 3), the order the generator stored their weights in; the others gather the row's
 * bytes first and pair them in natural order. Taps outside the input read as the zero point (which
 * the folded bias cancels); the padding past the filter meets zero weights. */
static void te_widen_pixel(const te_fast_conv_params *p, const int8_t *input, int32_t pixel, int32_t slot,
                           te_word *rows, int8_t *staging) {
    const int32_t depth = p->input_depth;
    const int32_t out_y = pixel / p->output_width, out_x = pixel % p->output_width;
    const int32_t y0 = out_y * p->stride_height - p->pad_height;
    const int32_t x0 = out_x * p->stride_width - p->pad_width;
    int32_t fy, fx;
    if (p->chunked) {
        const uint32_t zero_pair = ((uint32_t)p->input_zero_point & 0xFFFFu) * 0x10001u;
        te_word *out = rows + slot;
        for (fy = 0; fy < p->filter_height; ++fy) {
            const int32_t y = y0 + fy;
            for (fx = 0; fx < p->filter_width; ++fx) {
                const int32_t x = x0 + fx;
                int32_t i;
                if (y < 0 || y >= p->input_height || x < 0 || x >= p->input_width) {
                    for (i = 0; i < depth; i += 4) {
                        out[0] = zero_pair;
                        out[2] = zero_pair;
                        out += 4;
                    }
                } else {
                    const int8_t *source = input + ((size_t)y * (size_t)p->input_width + (size_t)x) * (size_t)depth;
                    for (i = 0; i < depth; i += 4) {
                        const uint32_t word = te_read32(source + i);
                        out[0] = te_sxtb16_even(word);
                        out[2] = te_sxtb16_odd(word);
                        out += 4;
                    }
                }
            }
        }
    } else {
        int8_t *cursor = staging;
        int32_t j;
        for (fy = 0; fy < p->filter_height; ++fy) {
            const int32_t y = y0 + fy;
            for (fx = 0; fx < p->filter_width; ++fx) {
                const int32_t x = x0 + fx;
                int32_t i;
                if (y < 0 || y >= p->input_height || x < 0 || x >= p->input_width) {
                    for (i = 0; i < depth; ++i) {
                        cursor[i] = (int8_t)p->input_zero_point;
                    }
                } else {
                    const int8_t *source = input + ((size_t)y * (size_t)p->input_width + (size_t)x) * (size_t)depth;
                    for (i = 0; i < depth; ++i) {
                        cursor[i] = source[i];
                    }
                }
                cursor += depth;
            }
        }
        /* staging holds row_pairs * 2 bytes: the row, then zeros up to the padded length. */
        for (j = 0; j < p->row_pairs; ++j) {
            rows[2 * j + slot] = ((uint32_t)(int32_t)staging[2 * j] & 0xFFFFu) |
                                 ((uint32_t)(int32_t)staging[2 * j + 1] << 16);
        }
    }
}

/* Two pixels against two channels: acc = {a.c0, a.c1, b.c0, b.c1}. `pairs` is even. Each 64-bit
 * load brings pixel a's and pixel b's pair (or channel 0's and channel 1's weights) at once; with the
 * DSP extension the step is written out (LDRD with post-increment, SMLAD) because gcc splits LDRD into
 * two loads for the Cortex-M4: 14 instructions per 16 multiply-adds. */
TE_ALWAYS_INLINE void te_dot_2x2(const te_word *x, const te_word *w, int32_t pairs, int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
    const te_word *end = x + 2 * pairs;
#if TE_HAVE_DSP
    do {
        uint32_t xa, xb, w0, w1;
        __asm__("ldrd %[xa], %[xb], [%[x]], #8\n\t"
                "ldrd %[w0], %[w1], [%[w]], #8\n\t"
                "smlad %[a0], %[xa], %[w0], %[a0]\n\t"
                "smlad %[a1], %[xa], %[w1], %[a1]\n\t"
                "smlad %[b0], %[xb], %[w0], %[b0]\n\t"
                "smlad %[b1], %[xb], %[w1], %[b1]\n\t"
                "ldrd %[xa], %[xb], [%[x]], #8\n\t"
                "ldrd %[w0], %[w1], [%[w]], #8\n\t"
                "smlad %[a0], %[xa], %[w0], %[a0]\n\t"
                "smlad %[a1], %[xa], %[w1], %[a1]\n\t"
                "smlad %[b0], %[xb], %[w0], %[b0]\n\t"
                "smlad %[b1], %[xb], %[w1], %[b1]"
                : [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1), [x] "+r"(x), [w] "+r"(w),
                  [xa] "=&r"(xa), [xb] "=&r"(xb), [w0] "=&r"(w0), [w1] "=&r"(w1)
                :
                : "memory");
    } while (x != end);
#else
    do {
        a0 = te_smlad(x[0], w[0], a0);
        a1 = te_smlad(x[0], w[1], a1);
        b0 = te_smlad(x[1], w[0], b0);
        b1 = te_smlad(x[1], w[1], b1);
        x += 2;
        w += 2;
    } while (x != end);
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = b0;
    acc[3] = b1;
}

/* Two pixels against one plain filter row (the odd last channel). */
TE_ALWAYS_INLINE void te_dot_2x1(const te_word *x, const te_word *w, int32_t pairs, int32_t *acc) {
    int32_t a = acc[0], b = acc[1];
    int32_t j;
    for (j = 0; j < pairs; ++j) {
        const uint32_t weight = w[j];
        a = te_smlad(x[2 * j], weight, a);
        b = te_smlad(x[2 * j + 1], weight, b);
    }
    acc[0] = a;
    acc[1] = b;
}

/* te_dot_2x2 over packed weights: per two pairs, channel 0's and channel 1's word, each SXTB16 into
 * the first pair and, rotated by 8, the second. */
TE_ALWAYS_INLINE void te_dot_2x2_packed(const te_word *x, const te_word *w, int32_t pairs, int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
    const te_word *end = x + 2 * pairs;
    do {
        const uint32_t c0 = w[0], c1 = w[1];
        const uint32_t first0 = te_sxtb16_even(c0), second0 = te_sxtb16_odd(c0);
        const uint32_t first1 = te_sxtb16_even(c1), second1 = te_sxtb16_odd(c1);
        a0 = te_smlad(x[0], first0, a0);
        a1 = te_smlad(x[0], first1, a1);
        b0 = te_smlad(x[1], first0, b0);
        b1 = te_smlad(x[1], first1, b1);
        a0 = te_smlad(x[2], second0, a0);
        a1 = te_smlad(x[2], second1, a1);
        b0 = te_smlad(x[3], second0, b0);
        b1 = te_smlad(x[3], second1, b1);
        x += 4;
        w += 2;
    } while (x != end);
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = b0;
    acc[3] = b1;
}

/* te_dot_2x1 over one packed row. */
TE_ALWAYS_INLINE void te_dot_2x1_packed(const te_word *x, const te_word *w, int32_t pairs, int32_t *acc) {
    int32_t a = acc[0], b = acc[1];
    int32_t j;
    for (j = 0; j < pairs; j += 2) {
        const uint32_t word = w[j / 2];
        const uint32_t first = te_sxtb16_even(word), second = te_sxtb16_odd(word);
        a = te_smlad(x[2 * j + 2], second, te_smlad(x[2 * j], first, a));
        b = te_smlad(x[2 * j + 3], second, te_smlad(x[2 * j + 1], first, b));
    }
    acc[0] = a;
    acc[1] = b;
}

/* One output value: requantized and clamped, then, with a fused ADD, added to the residual through
 * the generator's tables (each operand's rescaled value by its int8 code) and requantized again. */
TE_ALWAYS_INLINE int8_t te_conv_value(const te_fast_conv_params *p, int32_t acc, const te_requant *q,
                                      int full_range, int has_residual, const int8_t *residual,
                                      size_t index) {
    const int8_t value = te_clamp_int8(te_requant_apply(acc, q), full_range, p->activation_min,
                                     p->activation_max);
    if (has_residual) {
        const int32_t sum = p->conv_table[value + 128] + p->residual_table[residual[index] + 128];
        return te_clamp_int8(te_requant_apply(sum, &p->add_requant), 0, p->add_min, p->add_max);
    }
    return value;
}

TE_ALWAYS_INLINE void te_conv_body(const te_fast_conv_params *p, const int8_t *input, const te_word *filter,
                                   int8_t *scratch, const int8_t *residual, int8_t *output,
                                   int full_range, int has_residual, int packed) {
    const int32_t pixels = p->output_height * p->output_width;
    const int32_t depth = p->output_depth;
    const int32_t pairs = p->row_pairs;
    const int32_t *bias = p->bias;
    const te_requant *requant = p->requant;
    te_word *rows = (te_word *)(void *)scratch;
    int8_t *staging = scratch + (size_t)pairs * 8;
    int32_t pixel, j;
    for (j = 0; j < 2 * pairs; ++j) {
        staging[j] = 0;
    }
    for (pixel = 0; pixel < pixels; pixel += 2) {
        const int two = pixel + 1 < pixels;
        const size_t base_a = (size_t)pixel * (size_t)depth, base_b = base_a + (size_t)depth;
        const te_word *weights = filter;
        int32_t channel = 0;
        te_widen_pixel(p, input, pixel, 0, rows, staging);
        te_widen_pixel(p, input, two ? pixel + 1 : pixel, 1, rows, staging);
        for (; channel + 2 <= depth; channel += 2) {
            /* Copies, so the byte stores below cannot make the compiler load them again. */
            const te_requant q0 = requant[channel], q1 = requant[channel + 1];
            int32_t acc[4];
            int8_t a0, a1, b0, b1;
            acc[0] = acc[2] = bias[channel];
            acc[1] = acc[3] = bias[channel + 1];
            if (packed) {
                te_dot_2x2_packed(rows, weights, pairs, acc);
                weights += pairs;
            } else {
                te_dot_2x2(rows, weights, pairs, acc);
                weights += 2 * pairs;
            }
            a0 = te_conv_value(p, acc[0], &q0, full_range, has_residual, residual, base_a + (size_t)channel);
            a1 = te_conv_value(p, acc[1], &q1, full_range, has_residual, residual, base_a + (size_t)channel + 1);
            b0 = te_conv_value(p, acc[2], &q0, full_range, has_residual, residual, base_b + (size_t)channel);
            b1 = te_conv_value(p, acc[3], &q1, full_range, has_residual, residual, base_b + (size_t)channel + 1);
            output[base_a + (size_t)channel] = a0;
            output[base_a + (size_t)channel + 1] = a1;
            if (two) {
                output[base_b + (size_t)channel] = b0;
                output[base_b + (size_t)channel + 1] = b1;
            }
        }
        if (channel < depth) {
            int32_t acc[2];
            acc[0] = acc[1] = bias[channel];
            if (packed) {
                te_dot_2x1_packed(rows, weights, pairs, acc);
            } else {
                te_dot_2x1(rows, weights, pairs, acc);
            }
            output[base_a + (size_t)channel] = te_conv_value(p, acc[0], requant + channel, full_range,
                                                             has_residual, residual, base_a + (size_t)channel);
            if (two) {
                output[base_b + (size_t)channel] = te_conv_value(p, acc[1], requant + channel, full_range,
                                                                 has_residual, residual, base_b + (size_t)channel);
            }
        }
    }
}

/* The instances: a constant `full_range` lets the clamp be one SSAT, a constant `packed` picks the
 * weight layout. */
#define TE_CONV_INSTANCES(SUFFIX, PACKED)                                                                  \
    static void te_conv_saturating_##SUFFIX(const te_fast_conv_params *p, const int8_t *input,             \
                                            const te_word *filter, int8_t *scratch, int8_t *output) {      \
        te_conv_body(p, input, filter, scratch, NULL, output, 1, 0, PACKED);                              \
    }                                                                                                     \
    static void te_conv_clamping_##SUFFIX(const te_fast_conv_params *p, const int8_t *input,               \
                                          const te_word *filter, int8_t *scratch, int8_t *output) {        \
        te_conv_body(p, input, filter, scratch, NULL, output, 0, 0, PACKED);                              \
    }                                                                                                     \
    static void te_conv_residual_##SUFFIX(const te_fast_conv_params *p, const int8_t *input,               \
                                          const te_word *filter, int8_t *scratch, const int8_t *residual,  \
                                          int8_t *output) {                                                \
        te_conv_body(p, input, filter, scratch, residual, output,                                         \
                     p->activation_min == -128 && p->activation_max == 127, 1, PACKED);                    \
    }

TE_CONV_INSTANCES(fast, 0)
TE_CONV_INSTANCES(packed, 1)

#define TE_CONV_DISPATCH(SUFFIX)                                                                           \
    do {                                                                                                  \
        const te_word *weights = (const te_word *)filter;                                                  \
        if (residual != NULL) {                                                                            \
            te_conv_residual_##SUFFIX(p, input, weights, scratch, residual, output);                       \
        } else if (p->activation_min == -128 && p->activation_max == 127) {                                \
            te_conv_saturating_##SUFFIX(p, input, weights, scratch, output);                               \
        } else {                                                                                           \
            te_conv_clamping_##SUFFIX(p, input, weights, scratch, output);                                 \
        }                                                                                                  \
    } while (0)

void te_conv_fast_s8(const te_fast_conv_params *p, const int8_t *input, const uint32_t *filter,
                     int8_t *scratch, const int8_t *residual, int8_t *output) {
    TE_CONV_DISPATCH(fast);
}

void te_conv_packed_s8(const te_fast_conv_params *p, const int8_t *input, const uint32_t *filter,
                       int8_t *scratch, const int8_t *residual, int8_t *output) {
    TE_CONV_DISPATCH(packed);
}
