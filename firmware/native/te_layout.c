/* Data movement: PAD, CONCATENATION, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND and plain copies. */
#include <string.h>

#include "tinyedge_native.h"

void te_copy(const void *input, void *output, size_t bytes) {
    if (input != output) {
        memmove(output, input, bytes);
    }
}

/* Writes one padded block of dimension `d` and below; returns the advanced output pointer. */
static int8_t *te_pad_dim(const te_pad_params *p, int32_t d, const int8_t **input, int8_t *output) {
    int32_t inner = 1;
    int32_t k, i;
    for (k = d + 1; k < p->rank; ++k) {
        inner *= p->before[k] + p->input_dims[k] + p->after[k];
    }
    memset(output, p->pad_value, (size_t)p->before[d] * (size_t)inner);
    output += (size_t)p->before[d] * (size_t)inner;
    if (d == p->rank - 1) {
        memcpy(output, *input, (size_t)p->input_dims[d]);
        *input += p->input_dims[d];
        output += p->input_dims[d];
    } else {
        for (i = 0; i < p->input_dims[d]; ++i) {
            output = te_pad_dim(p, d + 1, input, output);
        }
    }
    memset(output, p->pad_value, (size_t)p->after[d] * (size_t)inner);
    return output + (size_t)p->after[d] * (size_t)inner;
}

void te_pad_s8(const te_pad_params *p, const int8_t *input, int8_t *output) {
    te_pad_dim(p, 0, &input, output);
}

void te_concatenation_s8(const te_concat_params *p, const int8_t *const *inputs, int8_t *output) {
    int32_t outer, i;
    for (outer = 0; outer < p->outer_size; ++outer) {
        for (i = 0; i < p->count; ++i) {
            const size_t size = (size_t)p->copy_sizes[i];
            memcpy(output, inputs[i] + (size_t)outer * size, size);
            output += size;
        }
    }
}

/* Output batch b reads input batch b % input_batch at the spatial offset given by b / input_batch. */
void te_space_to_batch_s8(const te_space_batch_params *p, const int8_t *input, int8_t *output) {
    int32_t out_b, out_y, out_x;
    const size_t depth = (size_t)p->depth;
    for (out_b = 0; out_b < p->output_batch; ++out_b) {
        const int32_t in_b = out_b % p->input_batch;
        const int32_t block = out_b / p->input_batch;
        const int32_t shift_y = block / p->block_width;
        const int32_t shift_x = block % p->block_width;
        for (out_y = 0; out_y < p->output_height; ++out_y) {
            const int32_t in_y = out_y * p->block_height + shift_y - p->pad_top;
            for (out_x = 0; out_x < p->output_width; ++out_x) {
                const int32_t in_x = out_x * p->block_width + shift_x - p->pad_left;
                int8_t *out = output + (((size_t)out_b * (size_t)p->output_height + (size_t)out_y) *
                                        (size_t)p->output_width + (size_t)out_x) * depth;
                if (in_y < 0 || in_y >= p->input_height || in_x < 0 || in_x >= p->input_width) {
                    memset(out, p->pad_value, depth);
                } else {
                    memcpy(out, input + (((size_t)in_b * (size_t)p->input_height + (size_t)in_y) *
                                         (size_t)p->input_width + (size_t)in_x) * depth,
                           depth);
                }
            }
        }
    }
}

void te_batch_to_space_s8(const te_space_batch_params *p, const int8_t *input, int8_t *output) {
    int32_t in_b, in_y, in_x;
    const size_t depth = (size_t)p->depth;
    for (in_b = 0; in_b < p->input_batch; ++in_b) {
        const int32_t out_b = in_b % p->output_batch;
        const int32_t block = in_b / p->output_batch;
        const int32_t shift_y = block / p->block_width;
        const int32_t shift_x = block % p->block_width;
        for (in_y = 0; in_y < p->input_height; ++in_y) {
            const int32_t out_y = in_y * p->block_height + shift_y - p->crop_top;
            if (out_y < 0 || out_y >= p->output_height) {
                continue;
            }
            for (in_x = 0; in_x < p->input_width; ++in_x) {
                const int32_t out_x = in_x * p->block_width + shift_x - p->crop_left;
                if (out_x < 0 || out_x >= p->output_width) {
                    continue;
                }
                memcpy(output + (((size_t)out_b * (size_t)p->output_height + (size_t)out_y) *
                                 (size_t)p->output_width + (size_t)out_x) * depth,
                       input + (((size_t)in_b * (size_t)p->input_height + (size_t)in_y) *
                                (size_t)p->input_width + (size_t)in_x) * depth,
                       depth);
            }
        }
    }
}
