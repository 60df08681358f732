/* Layout and resampling: strided copies (TRANSPOSE, STRIDED_SLICE, SLICE, SPLIT, SPLIT_V), GATHER with
 * constant indices, RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR. The generator computes every index and
 * interpolation weight as TFLM does (tinyedge/codegen/ops_layout.py); the kernels only move bytes and,
 * for bilinear, apply TFLM's fixed-point interpolation. */
#include <stddef.h>
#include <string.h>

#include "tinyedge_native.h"

/* output[i0..i(rank-1)] = input[input_offset + sum(i_k * input_strides[k])], the innermost dimension
 * copied as one run when its stride is 1. */
void te_strided_copy_s8(const te_strided_copy_params *p, const int8_t *input, int8_t *output) {
    int32_t index[TE_MAX_DIMS] = {0};
    const int32_t last = p->rank - 1;
    const int32_t run = p->output_dims[last];
    const int32_t step = p->input_strides[last];
    int32_t offset = p->input_offset;
    int32_t d, i;
    for (;;) {
        if (step == 1) {
            memcpy(output, input + offset, (size_t)run);
        } else {
            const int8_t *in = input + offset;
            for (i = 0; i < run; ++i) {
                output[i] = in[(ptrdiff_t)i * step];
            }
        }
        output += run;
        /* advance the outer dimensions like an odometer */
        for (d = last - 1; d >= 0; --d) {
            offset += p->input_strides[d];
            if (++index[d] < p->output_dims[d]) {
                break;
            }
            offset -= p->input_strides[d] * p->output_dims[d];
            index[d] = 0;
        }
        if (d < 0) {
            return;
        }
    }
}

void te_gather_s8(const te_gather_params *p, const int8_t *input, int8_t *output) {
    int32_t outer, i;
    const size_t inner = (size_t)p->inner_size;
    for (outer = 0; outer < p->outer_size; ++outer) {
        const int8_t *block = input + (size_t)outer * (size_t)p->axis_size * inner;
        for (i = 0; i < p->count; ++i) {
            memcpy(output, block + (size_t)p->indices[i] * inner, inner);
            output += inner;
        }
    }
}

void te_resize_nearest_s8(const te_resize_params *p, const int8_t *input, int8_t *output) {
    int32_t b, y, x;
    const size_t depth = (size_t)p->depth;
    const size_t row = (size_t)p->input_width * depth;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * (size_t)p->input_height * row;
        for (y = 0; y < p->output_height; ++y) {
            const int8_t *in_row = image + (size_t)p->y_lower[y] * row;
            for (x = 0; x < p->output_width; ++x) {
                memcpy(output, in_row + (size_t)p->x_lower[x] * depth, depth);
                output += depth;
            }
        }
    }
}

/* TFLM's ResizeBilinearInteger: weights in 1/1024ths (the fraction may be negative before the first
 * pixel with half-pixel centres, where lower == upper), products summed at 2^20 and rounded half away
 * from zero. |sum| < 128 * 2048 * 2048, so int32 holds it. */
void te_resize_bilinear_s8(const te_resize_params *p, const int8_t *input, int8_t *output) {
    int32_t b, y, x;
    size_t c;
    const size_t depth = (size_t)p->depth;
    const size_t row = (size_t)p->input_width * depth;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * (size_t)p->input_height * row;
        for (y = 0; y < p->output_height; ++y) {
            const int8_t *row0 = image + (size_t)p->y_lower[y] * row;
            const int8_t *row1 = image + (size_t)p->y_upper[y] * row;
            const int32_t wy1 = p->y_fraction[y];
            const int32_t wy0 = 1024 - wy1;
            for (x = 0; x < p->output_width; ++x) {
                const size_t x0 = (size_t)p->x_lower[x] * depth;
                const size_t x1 = (size_t)p->x_upper[x] * depth;
                const int32_t wx1 = p->x_fraction[x];
                const int32_t wx0 = 1024 - wx1;
                for (c = 0; c < depth; ++c) {
                    const int32_t sum = row0[x0 + c] * wy0 * wx0 + row1[x0 + c] * wy1 * wx0 +
                                        row0[x1 + c] * wy0 * wx1 + row1[x1 + c] * wy1 * wx1;
                    const int32_t round = sum > 0 ? (1 << 19) : -(1 << 19);
                    *output++ = (int8_t)((sum + round) / (1 << 20));
                }
            }
        }
    }
}
