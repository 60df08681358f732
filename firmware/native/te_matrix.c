/* TRANSPOSE_CONV and BATCH_MATMUL, int8 (TFLM's reference integer arithmetic). */
#include "tinyedge_native.h"

/* Each output pixel gathers the input pixels whose scatter (in_y * stride - pad + filter_y) lands on
 * it: the same products TFLM accumulates in its int32 scratch, without that scratch. The taps that
 * reach the pixel are found once per pixel (pairs of input and filter offsets in `scratch`, 2 *
 * filter_height * filter_width int32), then every output channel sums over them. */
void te_transpose_conv_s8(const te_transpose_conv_params *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, int8_t *scratch, int8_t *output) {
    int32_t *taps = (int32_t *)(void *)scratch;   /* the arena plan aligns every buffer */
    const size_t filter_size = (size_t)p->filter_height * (size_t)p->filter_width * (size_t)p->input_depth;
    int32_t b, out_y, out_x, out_c, fy, fx, c, t;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + (size_t)b * (size_t)p->input_height * (size_t)p->input_width *
                                      (size_t)p->input_depth;
        for (out_y = 0; out_y < p->output_height; ++out_y) {
            for (out_x = 0; out_x < p->output_width; ++out_x) {
                int32_t count = 0;
                for (fy = 0; fy < p->filter_height; ++fy) {
                    const int32_t row = out_y + p->pad_height - fy;
                    if (row < 0 || row % p->stride_height != 0 || row / p->stride_height >= p->input_height) {
                        continue;
                    }
                    for (fx = 0; fx < p->filter_width; ++fx) {
                        const int32_t column = out_x + p->pad_width - fx;
                        if (column < 0 || column % p->stride_width != 0 || column / p->stride_width >= p->input_width) {
                            continue;
                        }
                        taps[2 * count] = ((row / p->stride_height) * p->input_width + column / p->stride_width)
                                          * p->input_depth;
                        taps[2 * count + 1] = (fy * p->filter_width + fx) * p->input_depth;
                        ++count;
                    }
                }
                for (out_c = 0; out_c < p->output_depth; ++out_c) {
                    const int8_t *weights = filter + (size_t)out_c * filter_size;
                    int32_t acc = bias != NULL ? bias[out_c] : 0;
                    for (t = 0; t < count; ++t) {
                        const int8_t *pixel = image + taps[2 * t];
                        const int8_t *tap = weights + taps[2 * t + 1];
                        for (c = 0; c < p->input_depth; ++c) {
                            acc += ((int32_t)pixel[c] + p->input_offset) * tap[c];
                        }
                    }
                    acc = te_requantize(acc, p->multipliers[out_c], p->shifts[out_c]) + p->output_offset;
                    *output++ = (int8_t)te_clamp(acc, p->activation_min, p->activation_max);
                }
            }
        }
    }
}

/* output[b][i][j] = requantize(sum_k (lhs[b][i][k] + lhs_offset) * (rhs[b][k][j] + rhs_offset)); the
 * strides (chosen by the generator) read either operand transposed (adj_x, adj_y) and the per-batch
 * offsets broadcast the batch dimensions. */
void te_batch_matmul_s8(const te_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *output) {
    int32_t b, i, j, k;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *left = lhs + p->lhs_batch_offsets[b];
        const int8_t *right = rhs + p->rhs_batch_offsets[b];
        for (i = 0; i < p->rows; ++i) {
            for (j = 0; j < p->cols; ++j) {
                int32_t acc = 0;
                for (k = 0; k < p->depth; ++k) {
                    acc += ((int32_t)left[i * p->lhs_row_stride + k * p->lhs_depth_stride] + p->lhs_offset)
                           * ((int32_t)right[k * p->rhs_depth_stride + j * p->rhs_col_stride] + p->rhs_offset);
                }
                acc = te_requantize(acc, p->multiplier, p->shift) + p->output_offset;
                *output++ = (int8_t)te_clamp(acc, INT8_MIN, INT8_MAX);
            }
        }
    }
}
