/* FULLY_CONNECTED, int8, per-tensor or per-channel (TFLM reference semantics). */
#include "tinyedge_native.h"

void te_fully_connected_s8(const te_fully_connected_params *p, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int8_t *output) {
    int32_t b, out_c, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *row = input + (size_t)b * (size_t)p->accum_depth;
        for (out_c = 0; out_c < p->output_depth; ++out_c) {
            const int8_t *weights = filter + (size_t)out_c * (size_t)p->accum_depth;
            int32_t acc = 0;
            for (d = 0; d < p->accum_depth; ++d) {
                acc += ((int32_t)weights[d] + p->filter_offset) * ((int32_t)row[d] + p->input_offset);
            }
            if (bias != NULL) {
                acc += bias[out_c];
            }
            acc = te_requantize(acc, p->multipliers[out_c], p->shifts[out_c]) + p->output_offset;
            output[(size_t)b * (size_t)p->output_depth + (size_t)out_c] =
                (int8_t)te_clamp(acc, p->activation_min, p->activation_max);
        }
    }
}
