/* QUANTIZE (float -> int8 and int8 -> int8) and DEQUANTIZE (int8 -> float). Float arithmetic happens
 * only here, and only for models whose own input or output is float. */
#include <math.h>

#include "tinyedge_native.h"

void te_quantize_f32_s8(const te_quantize_params *p, const float *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        /* roundf rounds half away from zero, like TfLiteRound; clamp before converting to int. */
        float rounded = roundf(input[i] / p->scale);
        int32_t value;
        if (rounded > 512.0f) {
            rounded = 512.0f;
        } else if (rounded < -512.0f) {
            rounded = -512.0f;
        }
        value = (int32_t)rounded + p->output_zero_point;
        output[i] = (int8_t)te_clamp(value, INT8_MIN, INT8_MAX);
    }
}

void te_dequantize_s8_f32(const te_quantize_params *p, const int8_t *input, float *output) {
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        /* TFLM multiplies in double precision, then narrows. */
        output[i] = (float)((double)p->scale * (double)((int32_t)input[i] - p->input_zero_point));
    }
}

void te_requantize_s8(const te_quantize_params *p, const int8_t *input, int8_t *output) {
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t value = te_requantize((int32_t)input[i] - p->input_zero_point, p->multiplier, p->shift) +
                              p->output_zero_point;
        output[i] = (int8_t)te_clamp(value, INT8_MIN, INT8_MAX);
    }
}
