/* CONV_2D fast path: partial im2col of two output pixels, widened once to int16 pairs (shared by all
 * output channels), and a 2 pixel x 2 channel register-blocked product with SMLAD against filter words
 * widened by SXTB16 on the fly (see tinyedge_native.h for the layouts it expects). */
#include "te_simd.h"
#include "tinyedge_native.h"

/* The receptive field of output pixel (out_y, out_x) as one row of row_length bytes: taps outside the
 * input read as the input zero point (so they add zero once the folded bias is counted), and the
 * bytes past the filter meet zero weights. */
static void te_im2col_row(const te_fast_conv_params *p, const int8_t *input, int32_t out_y, int32_t out_x,
                          int8_t *row) {
    const int32_t depth = p->input_depth;
    const int32_t y0 = out_y * p->stride_height - p->pad_height;
    const int32_t x0 = out_x * p->stride_width - p->pad_width;
    const int8_t zero_point = (int8_t)p->input_zero_point;
    int8_t *cursor = row;
    int32_t fy, fx, i;
    for (fy = 0; fy < p->filter_height; ++fy) {
        const int32_t y = y0 + fy;
        for (fx = 0; fx < p->filter_width; ++fx) {
            const int32_t x = x0 + fx;
            if (y < 0 || y >= p->input_height || x < 0 || x >= p->input_width) {
                for (i = 0; i < depth; ++i) {
                    cursor[i] = zero_point;
                }
            } else {
                const int8_t *pixel = input + ((size_t)y * p->input_width + x) * depth;
                i = 0;
                for (; i + 4 <= depth; i += 4) {
                    te_write32(cursor + i, te_read32(pixel + i));
                }
                for (; i < depth; ++i) {
                    cursor[i] = pixel[i];
                }
            }
            cursor += depth;
        }
    }
    while (cursor < row + p->row_length) {
        *cursor++ = zero_point;
    }
}

/* Widens the int8 rows a and b (b may be absent) into int16 pairs, chunk-interleaved: per 4 bytes of
 * depth, (a0, a2) (a1, a3) (b0, b2) (b1, b3), the order te_dot_2x2 reads them in with one pointer. */
static void te_widen_rows(const int8_t *row_a, const int8_t *row_b, int32_t length, int8_t *pairs) {
    int32_t chunk;
    for (chunk = 0; chunk < length / 4; ++chunk) {
        const uint32_t a = te_read32(row_a + 4 * chunk);
        te_write32(pairs, te_sxtb16_even(a));
        te_write32(pairs + 4, te_sxtb16_odd(a));
        if (row_b != NULL) {
            const uint32_t b = te_read32(row_b + 4 * chunk);
            te_write32(pairs + 8, te_sxtb16_even(b));
            te_write32(pairs + 12, te_sxtb16_odd(b));
        }
        pairs += 16;
    }
}

/* The output of a layer with a fused ADD (the plain case is inlined in te_conv_pixels). */
static int8_t te_conv_output(const te_fast_conv_params *p, int32_t acc, int32_t channel,
                             const int8_t *residual, size_t index) {
    const int32_t value = te_output_small(acc, p->multipliers[channel], p->shifts[channel], p->output_offset,
                                          p->activation_min, p->activation_max);
    return p->residual_is_first ? te_add_element(p->residual_add, residual[index], value)
                                : te_add_element(p->residual_add, value, residual[index]);
}

static int8_t te_conv_result(const te_fast_conv_params *p, int32_t acc, int32_t channel,
                             const int8_t *residual, size_t index) {
    if (residual != NULL) {
        return te_conv_output(p, acc, channel, residual, index);
    }
    return te_output_small(acc, p->multipliers[channel], p->shifts[channel], p->output_offset,
                           p->activation_min, p->activation_max);
}

/* Two widened pixels against two interleaved filter rows: acc[0] a.c0, acc[1] a.c1, acc[2] b.c0,
 * acc[3] b.c1. Per 4 bytes of depth: 4 + 2 loads, 4 SXTB16, 8 SMLAD for 16 multiply-adds. */
static inline void te_dot_2x2(const int8_t *x, const int8_t *weights, int32_t chunks, int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
    while (chunks-- > 0) {
        const uint32_t xa_even = te_read32(x), xa_odd = te_read32(x + 4);
        const uint32_t xb_even = te_read32(x + 8), xb_odd = te_read32(x + 12);
        uint32_t w = te_read32(weights);
        uint32_t w_even = te_sxtb16_even(w), w_odd = te_sxtb16_odd(w);
        a0 = te_smlad(xa_even, w_even, a0);
        a0 = te_smlad(xa_odd, w_odd, a0);
        b0 = te_smlad(xb_even, w_even, b0);
        b0 = te_smlad(xb_odd, w_odd, b0);
        w = te_read32(weights + 4);
        w_even = te_sxtb16_even(w);
        w_odd = te_sxtb16_odd(w);
        a1 = te_smlad(xa_even, w_even, a1);
        a1 = te_smlad(xa_odd, w_odd, a1);
        b1 = te_smlad(xb_even, w_even, b1);
        b1 = te_smlad(xb_odd, w_odd, b1);
        x += 16;
        weights += 8;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = b0;
    acc[3] = b1;
}

/* One widened pixel (pairs 16 bytes apart) against one filter row whose chunks are `stride` apart. */
static inline int32_t te_dot_1x1(const int8_t *x, const int8_t *weights, int32_t chunks, int32_t stride,
                                 int32_t acc) {
    while (chunks-- > 0) {
        const uint32_t w = te_read32(weights);
        acc = te_smlad(te_read32(x), te_sxtb16_even(w), acc);
        acc = te_smlad(te_read32(x + 4), te_sxtb16_odd(w), acc);
        x += 16;
        weights += stride;
    }
    return acc;
}

/* Output pixels [first, first + count) with count 1 or 2, whose rows are in `rows`. */
static void te_conv_pixels(const te_fast_conv_params *p, const int8_t *filter, const int8_t *rows,
                           int32_t first, int32_t count, const int8_t *residual, int8_t *output) {
    const int32_t depth = p->output_depth;
    const int32_t length = p->row_length;
    const int32_t chunks = length / 4;
    const int8_t *row_a = rows;
    const size_t base_a = (size_t)first * depth;
    const size_t base_b = base_a + depth;
    int32_t channel = 0;
    for (; channel + 2 <= depth; channel += 2) {
        const int8_t *weights = filter + (size_t)channel * length;
        if (count == 2) {
            int32_t acc[4];
            acc[0] = acc[2] = p->bias[channel];
            acc[1] = acc[3] = p->bias[channel + 1];
            te_dot_2x2(rows, weights, chunks, acc);
            if (residual == NULL) {
                const int32_t m0 = p->multipliers[channel], s0 = p->shifts[channel];
                const int32_t m1 = p->multipliers[channel + 1], s1 = p->shifts[channel + 1];
                const int32_t offset = p->output_offset, low = p->activation_min, high = p->activation_max;
                output[base_a + channel] = te_output_small(acc[0], m0, s0, offset, low, high);
                output[base_a + channel + 1] = te_output_small(acc[1], m1, s1, offset, low, high);
                output[base_b + channel] = te_output_small(acc[2], m0, s0, offset, low, high);
                output[base_b + channel + 1] = te_output_small(acc[3], m1, s1, offset, low, high);
            } else {
                output[base_a + channel] = te_conv_output(p, acc[0], channel, residual, base_a + channel);
                output[base_a + channel + 1] =
                    te_conv_output(p, acc[1], channel + 1, residual, base_a + channel + 1);
                output[base_b + channel] = te_conv_output(p, acc[2], channel, residual, base_b + channel);
                output[base_b + channel + 1] =
                    te_conv_output(p, acc[3], channel + 1, residual, base_b + channel + 1);
            }
        } else {
            const int32_t acc0 = te_dot_1x1(row_a, weights, chunks, 8, p->bias[channel]);
            const int32_t acc1 = te_dot_1x1(row_a, weights + 4, chunks, 8, p->bias[channel + 1]);
            output[base_a + channel] = te_conv_result(p, acc0, channel, residual, base_a + channel);
            output[base_a + channel + 1] = te_conv_result(p, acc1, channel + 1, residual, base_a + channel + 1);
        }
    }
    if (channel < depth) {
        const int8_t *weights = filter + (size_t)channel * length;
        int32_t pixel;
        for (pixel = 0; pixel < count; ++pixel) {
            const size_t index = base_a + (size_t)pixel * depth + channel;
            const int32_t acc = te_dot_1x1(rows + (size_t)pixel * 8, weights, chunks, 4, p->bias[channel]);
            output[index] = te_conv_result(p, acc, channel, residual, index);
        }
    }
}

void te_conv_fast_s8(const te_fast_conv_params *p, const int8_t *input, const int8_t *filter,
                     int8_t *scratch, const int8_t *residual, int8_t *output) {
    const int32_t pixels = p->output_height * p->output_width;
    int32_t pixel = 0;
    while (pixel < pixels) {
        const int32_t count = pixels - pixel >= 2 ? 2 : 1;
        int32_t k;
        int8_t *staging = scratch + (size_t)4 * p->row_length;
        for (k = 0; k < count; ++k) {
            te_im2col_row(p, input, (pixel + k) / p->output_width, (pixel + k) % p->output_width,
                          staging + (size_t)k * p->row_length);
        }
        te_widen_rows(staging, count == 2 ? staging + p->row_length : NULL, p->row_length, scratch);
        te_conv_pixels(p, filter, scratch, pixel, count, residual, output);
        pixel += count;
    }
}
