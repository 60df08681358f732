/* DEPTHWISE_CONV_2D 3x3 fast path: four channels at a time, each input word widened by SXTB16 into
 * the pairs (c0, c2) and (c1, c3) and multiplied with SMLABB / SMLATT against weights the generator
 * stored already widened in that order. Border pixels read missing taps as the input zero point. */
#include "te_simd.h"
#include "tinyedge_native.h"

/* The four outputs of a group, requantized and clamped, stored once all are computed (so the byte
 * stores cannot make the compiler reload the requantization entries in between). */
TE_ALWAYS_INLINE void te_dw_store(const te_depthwise3x3_params *p, int32_t channel, int32_t acc0, int32_t acc1,
                                  int32_t acc2, int32_t acc3, int8_t *output) {
    const te_requant *q = p->requant + channel;
    const int full = p->full_range;
    const int8_t v0 = te_clamp_int8(te_requant_apply(acc0, q), full, p->activation_min, p->activation_max);
    const int8_t v1 = te_clamp_int8(te_requant_apply(acc1, q + 1), full, p->activation_min, p->activation_max);
    const int8_t v2 = te_clamp_int8(te_requant_apply(acc2, q + 2), full, p->activation_min, p->activation_max);
    const int8_t v3 = te_clamp_int8(te_requant_apply(acc3, q + 3), full, p->activation_min, p->activation_max);
    te_write32(output, (uint32_t)(uint8_t)v0 | (uint32_t)(uint8_t)v1 << 8 | (uint32_t)(uint8_t)v2 << 16 |
                           (uint32_t)(uint8_t)v3 << 24);
}

/* The 4 channels from `channel` of one output pixel near the border; `origin` is the element offset of
 * tap (0, 0) in `input` (possibly outside it). `valid` has bit (3 * fy + fx) set for taps inside the
 * input; only those are read. */
static void te_dw_group(const te_depthwise3x3_params *p, const int8_t *input, ptrdiff_t origin,
                        const uint32_t *weights, int32_t channel, uint32_t valid, int8_t *output) {
    const int32_t row_stride = p->input_width * p->depth;
    const uint32_t padding = 0x01010101u * (uint8_t)p->input_zero_point;
    int32_t acc0 = p->bias[channel], acc1 = p->bias[channel + 1];
    int32_t acc2 = p->bias[channel + 2], acc3 = p->bias[channel + 3];
    int32_t fy, fx;
    for (fy = 0; fy < 3; ++fy) {
        ptrdiff_t tap = origin + (ptrdiff_t)fy * row_stride;
        for (fx = 0; fx < 3; ++fx) {
            const uint32_t word = (valid >> (3 * fy + fx)) & 1u ? te_read32(input + tap) : padding;
            const uint32_t even = te_sxtb16_even(word), odd = te_sxtb16_odd(word);
            acc0 = te_smlabb(even, weights[0], acc0);
            acc2 = te_smlatt(even, weights[0], acc2);
            acc1 = te_smlabb(odd, weights[1], acc1);
            acc3 = te_smlatt(odd, weights[1], acc3);
            weights += 2;
            tap += p->depth;
        }
    }
    te_dw_store(p, channel, acc0, acc1, acc2, acc3, output);
}

/* The interior: every tap inside, offsets fixed, the loop fully unrolled. */
static void te_dw_group_inside(const te_depthwise3x3_params *p, const int8_t *origin, const uint32_t *w,
                               int32_t channel, int8_t *output) {
    const int32_t depth = p->depth;
    const int32_t row_stride = p->input_width * depth;
    int32_t acc0 = p->bias[channel], acc1 = p->bias[channel + 1];
    int32_t acc2 = p->bias[channel + 2], acc3 = p->bias[channel + 3];
    int32_t fy;
    for (fy = 0; fy < 3; ++fy) {
        const int8_t *tap = origin + fy * row_stride;
        uint32_t word = te_read32(tap);
        uint32_t even = te_sxtb16_even(word), odd = te_sxtb16_odd(word);
        acc0 = te_smlabb(even, w[0], acc0);
        acc2 = te_smlatt(even, w[0], acc2);
        acc1 = te_smlabb(odd, w[1], acc1);
        acc3 = te_smlatt(odd, w[1], acc3);
        word = te_read32(tap + depth);
        even = te_sxtb16_even(word);
        odd = te_sxtb16_odd(word);
        acc0 = te_smlabb(even, w[2], acc0);
        acc2 = te_smlatt(even, w[2], acc2);
        acc1 = te_smlabb(odd, w[3], acc1);
        acc3 = te_smlatt(odd, w[3], acc3);
        word = te_read32(tap + 2 * depth);
        even = te_sxtb16_even(word);
        odd = te_sxtb16_odd(word);
        acc0 = te_smlabb(even, w[4], acc0);
        acc2 = te_smlatt(even, w[4], acc2);
        acc1 = te_smlabb(odd, w[5], acc1);
        acc3 = te_smlatt(odd, w[5], acc3);
        w += 6;
    }
    te_dw_store(p, channel, acc0, acc1, acc2, acc3, output);
}

void te_depthwise3x3_fast_s8(const te_depthwise3x3_params *p, const int8_t *input,
                             const uint32_t *filter, int8_t *output) {
    const int32_t depth = p->depth;
    int32_t out_y, out_x, channel;
    for (out_y = 0; out_y < p->output_height; ++out_y) {
        const int32_t y0 = out_y * p->stride_height - p->pad_height;
        uint32_t rows_valid = 0;
        int32_t fy;
        for (fy = 0; fy < 3; ++fy) {
            if (y0 + fy >= 0 && y0 + fy < p->input_height) {
                rows_valid |= 7u << (3 * fy);
            }
        }
        for (out_x = 0; out_x < p->output_width; ++out_x) {
            const int32_t x0 = out_x * p->stride_width - p->pad_width;
            const ptrdiff_t origin = ((ptrdiff_t)y0 * p->input_width + x0) * depth;
            uint32_t valid = rows_valid;
            int32_t fx;
            for (fx = 0; fx < 3; ++fx) {
                if (x0 + fx < 0 || x0 + fx >= p->input_width) {
                    valid &= ~(0x49u << fx); /* column fx of all three rows */
                }
            }
            for (channel = 0; channel < depth; channel += 4) {
                const uint32_t *weights = filter + (size_t)channel / 4 * 18;
                if (valid == 0x1FFu) {
                    te_dw_group_inside(p, input + origin + channel, weights, channel, output + channel);
                } else {
                    te_dw_group(p, input, origin + channel, weights, channel, valid, output + channel);
                }
            }
            output += depth;
        }
    }
}
