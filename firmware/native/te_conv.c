/* CONV_2D and DEPTHWISE_CONV_2D, int8 with per-channel requantization (TFLM reference semantics:
 * taps outside the input are skipped, which equals padding with the input zero point). */
#include "tinyedge_native.h"

static int8_t te_finish(const te_conv_params *p, int32_t acc, const int32_t *bias, int32_t channel) {
    if (bias != NULL) {
        acc += bias[channel];
    }
    acc = te_requantize(acc, p->multipliers[channel], p->shifts[channel]) + p->output_offset;
    return (int8_t)te_clamp(acc, p->activation_min, p->activation_max);
}

void te_conv2d_s8(const te_conv_params *p, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, int8_t *output) {
    const int32_t groups = p->input_depth / p->filter_input_depth;
    const int32_t filters_per_group = p->output_depth / groups;
    int32_t batch, out_y, out_x, out_c;
    for (batch = 0; batch < p->batches; ++batch) {
        const int8_t *image = input + (size_t)batch * (size_t)p->input_height * (size_t)p->input_width *
                                      (size_t)p->input_depth;
        for (out_y = 0; out_y < p->output_height; ++out_y) {
            const int32_t in_y_origin = out_y * p->stride_height - p->pad_height;
            for (out_x = 0; out_x < p->output_width; ++out_x) {
                const int32_t in_x_origin = out_x * p->stride_width - p->pad_width;
                for (out_c = 0; out_c < p->output_depth; ++out_c) {
                    const int32_t group = out_c / filters_per_group;
                    const int8_t *kernel = filter + (size_t)out_c * (size_t)p->filter_height *
                                                        (size_t)p->filter_width * (size_t)p->filter_input_depth;
                    int32_t acc = 0;
                    int32_t fy, fx, ic;
                    for (fy = 0; fy < p->filter_height; ++fy) {
                        const int32_t in_y = in_y_origin + p->dilation_height * fy;
                        if (in_y < 0 || in_y >= p->input_height) {
                            continue;
                        }
                        for (fx = 0; fx < p->filter_width; ++fx) {
                            const int32_t in_x = in_x_origin + p->dilation_width * fx;
                            const int8_t *pixel;
                            const int8_t *taps;
                            if (in_x < 0 || in_x >= p->input_width) {
                                continue;
                            }
                            pixel = image +
                                    ((size_t)in_y * (size_t)p->input_width + (size_t)in_x) * (size_t)p->input_depth +
                                    (size_t)group * (size_t)p->filter_input_depth;
                            taps = kernel +
                                   ((size_t)fy * (size_t)p->filter_width + (size_t)fx) * (size_t)p->filter_input_depth;
                            for (ic = 0; ic < p->filter_input_depth; ++ic) {
                                acc += (int32_t)taps[ic] * ((int32_t)pixel[ic] + p->input_offset);
                            }
                        }
                    }
                    *output++ = te_finish(p, acc, bias, out_c);
                }
            }
        }
    }
}

void te_depthwise_conv2d_s8(const te_conv_params *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, int8_t *output) {
    int32_t batch, out_y, out_x, in_c, m;
    for (batch = 0; batch < p->batches; ++batch) {
        const int8_t *image = input + (size_t)batch * (size_t)p->input_height * (size_t)p->input_width *
                                      (size_t)p->input_depth;
        for (out_y = 0; out_y < p->output_height; ++out_y) {
            const int32_t in_y_origin = out_y * p->stride_height - p->pad_height;
            for (out_x = 0; out_x < p->output_width; ++out_x) {
                const int32_t in_x_origin = out_x * p->stride_width - p->pad_width;
                for (in_c = 0; in_c < p->input_depth; ++in_c) {
                    for (m = 0; m < p->depth_multiplier; ++m) {
                        const int32_t out_c = in_c * p->depth_multiplier + m;
                        int32_t acc = 0;
                        int32_t fy, fx;
                        for (fy = 0; fy < p->filter_height; ++fy) {
                            const int32_t in_y = in_y_origin + p->dilation_height * fy;
                            if (in_y < 0 || in_y >= p->input_height) {
                                continue;
                            }
                            for (fx = 0; fx < p->filter_width; ++fx) {
                                const int32_t in_x = in_x_origin + p->dilation_width * fx;
                                int32_t value, tap;
                                if (in_x < 0 || in_x >= p->input_width) {
                                    continue;
                                }
                                value = image[((size_t)in_y * (size_t)p->input_width + (size_t)in_x) *
                                              (size_t)p->input_depth + (size_t)in_c];
                                tap = filter[((size_t)fy * (size_t)p->filter_width + (size_t)fx) *
                                             (size_t)p->output_depth + (size_t)out_c];
                                acc += tap * (value + p->input_offset);
                            }
                        }
                        output[out_c] = te_finish(p, acc, bias, out_c);
                    }
                }
                output += p->output_depth;
            }
        }
    }
}
