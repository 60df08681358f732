/* MEAN over any set of axes, int8 (TFLM's QuantizedMeanOrSum). */
#include "tinyedge_native.h"

/* Sum of the reduced elements below `base`, walking the reduced dimensions as an odometer. */
static int32_t te_reduced_sum(const te_mean_params *p, const int8_t *base) {
    int32_t index[TE_MAX_DIMS] = {0};
    int32_t offset = 0;
    int32_t sum = 0;
    int32_t i, d;
    for (i = 0; i < p->reduced_count; ++i) {
        sum += base[offset];
        for (d = p->reduced_rank - 1; d >= 0; --d) {
            ++index[d];
            offset += p->reduced_strides[d];
            if (index[d] < p->reduced_dims[d]) {
                break;
            }
            offset -= p->reduced_strides[d] * index[d];
            index[d] = 0;
        }
    }
    return sum;
}

void te_mean_s8(const te_mean_params *p, const int8_t *input, int8_t *output) {
    int32_t index[TE_MAX_DIMS] = {0};
    int32_t offset = 0;
    int32_t outputs = 1;
    int32_t i, d;
    for (d = 0; d < p->kept_rank; ++d) {
        outputs *= p->kept_dims[d];
    }
    for (i = 0; i < outputs; ++i) {
        const int32_t shifted = te_reduced_sum(p, input + offset) - p->input_zero_point * p->reduced_count;
        const int32_t value = te_requantize(shifted, p->multiplier, p->shift) + p->output_zero_point;
        output[i] = (int8_t)te_clamp(value, INT8_MIN, INT8_MAX);
        for (d = p->kept_rank - 1; d >= 0; --d) {
            ++index[d];
            offset += p->kept_strides[d];
            if (index[d] < p->kept_dims[d]) {
                break;
            }
            offset -= p->kept_strides[d] * index[d];
            index[d] = 0;
        }
    }
}
