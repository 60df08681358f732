/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 (input and output share scale and zero point). */
#include "tinyedge_native.h"

typedef struct {
    int32_t y_start, y_end, x_start, x_end, in_y_origin, in_x_origin;
} te_window;

static te_window te_pool_window(const te_pool_params *p, int32_t out_y, int32_t out_x) {
    te_window w;
    w.in_y_origin = out_y * p->stride_height - p->pad_height;
    w.in_x_origin = out_x * p->stride_width - p->pad_width;
    w.y_start = w.in_y_origin < 0 ? -w.in_y_origin : 0;
    w.x_start = w.in_x_origin < 0 ? -w.in_x_origin : 0;
    w.y_end = p->input_height - w.in_y_origin;
    if (w.y_end > p->filter_height) {
        w.y_end = p->filter_height;
    }
    w.x_end = p->input_width - w.in_x_origin;
    if (w.x_end > p->filter_width) {
        w.x_end = p->filter_width;
    }
    return w;
}

void te_average_pool_s8(const te_pool_params *p, const int8_t *input, int8_t *output) {
    int32_t batch, out_y, out_x, c, fy, fx;
    for (batch = 0; batch < p->batches; ++batch) {
        const int8_t *image = input + (size_t)batch * (size_t)p->input_height * (size_t)p->input_width *
                                      (size_t)p->depth;
        for (out_y = 0; out_y < p->output_height; ++out_y) {
            for (out_x = 0; out_x < p->output_width; ++out_x) {
                const te_window w = te_pool_window(p, out_y, out_x);
                for (c = 0; c < p->depth; ++c) {
                    int32_t acc = 0;
                    int32_t count = 0;
                    for (fy = w.y_start; fy < w.y_end; ++fy) {
                        for (fx = w.x_start; fx < w.x_end; ++fx) {
                            const int32_t in_y = w.in_y_origin + fy;
                            const int32_t in_x = w.in_x_origin + fx;
                            acc += image[((size_t)in_y * (size_t)p->input_width + (size_t)in_x) * (size_t)p->depth +
                                         (size_t)c];
                            ++count;
                        }
                    }
                    if (count > 0) {
                        /* Round half away from zero, as TFLM does. */
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    *output++ = (int8_t)te_clamp(acc, p->activation_min, p->activation_max);
                }
            }
        }
    }
}

void te_max_pool_s8(const te_pool_params *p, const int8_t *input, int8_t *output) {
    int32_t batch, out_y, out_x, c, fy, fx;
    for (batch = 0; batch < p->batches; ++batch) {
        const int8_t *image = input + (size_t)batch * (size_t)p->input_height * (size_t)p->input_width *
                                      (size_t)p->depth;
        for (out_y = 0; out_y < p->output_height; ++out_y) {
            for (out_x = 0; out_x < p->output_width; ++out_x) {
                const te_window w = te_pool_window(p, out_y, out_x);
                for (c = 0; c < p->depth; ++c) {
                    int32_t largest = INT8_MIN;
                    for (fy = w.y_start; fy < w.y_end; ++fy) {
                        for (fx = w.x_start; fx < w.x_end; ++fx) {
                            const int32_t in_y = w.in_y_origin + fy;
                            const int32_t in_x = w.in_x_origin + fx;
                            const int32_t value =
                                image[((size_t)in_y * (size_t)p->input_width + (size_t)in_x) * (size_t)p->depth +
                                      (size_t)c];
                            if (value > largest) {
                                largest = value;
                            }
                        }
                    }
                    *output++ = (int8_t)te_clamp(largest, p->activation_min, p->activation_max);
                }
            }
        }
    }
}
