/* The model monitor's counters (tinyedge_monitor.h). Per inference: a few dozen instructions plus
 * about a dozen per examined input value (every input_stride-th) and, for an autoencoder, per input
 * element; the input's counts go to locals first so the saturating adds happen once per inference. */
#include "tinyedge_monitor.h"

#include <string.h>

static tinyedge_monitor_stats stats;
/* Latency bin edges: eighths of the reference, set by the first inference after a reset. */
static uint32_t latency_edges[TINYEDGE_MONITOR_LATENCY_BINS - 1u];

static uint32_t add_u32(uint32_t total, uint32_t value)
{
    uint32_t sum = total + value;
    return sum < total ? UINT32_MAX : sum;
}

static uint64_t add_u64(uint64_t total, uint64_t value)
{
    uint64_t sum = total + value;
    return sum < total ? UINT64_MAX : sum;
}

static int64_t add_i64(int64_t total, int64_t value)
{
    if (value > 0 && total > INT64_MAX - value) {
        return INT64_MAX;
    }
    if (value < 0 && total < INT64_MIN - value) {
        return INT64_MIN;
    }
    return total + value;
}

static void count_in(uint32_t *bin)
{
    if (*bin != UINT32_MAX) {
        ++*bin;
    }
}

/* np.searchsorted(edges, value, side="right") over ascending edges: how many are <= value. */
static uint32_t bin_u32(uint32_t value, const uint32_t *edges, uint32_t count)
{
    uint32_t bin = 0u;
    while (bin < count && value >= edges[bin]) {
        ++bin;
    }
    return bin;
}

static uint32_t bin_i32(int32_t value, const int16_t *edges, uint32_t count)
{
    uint32_t bin = 0u;
    while (bin < count && value >= edges[bin]) {
        ++bin;
    }
    return bin;
}

static uint32_t bin_code(int8_t value, const int8_t *edges, uint32_t count)
{
    uint32_t bin = 0u;
    while (bin < count && value >= edges[bin]) {
        ++bin;
    }
    return bin;
}

static uint32_t bin_u64(uint64_t value, const uint64_t *edges, uint32_t count)
{
    uint32_t bin = 0u;
    while (bin < count && value >= edges[bin]) {
        ++bin;
    }
    return bin;
}

static void record_latency(uint32_t ticks)
{
    uint32_t k;
    if (stats.latency_reference == 0u) {
        uint64_t reference = ticks > 0u ? ticks : 1u;
        stats.latency_reference = (uint32_t)reference;
        stats.latency_min = ticks;
        stats.latency_max = ticks;
        for (k = 0u; k < TINYEDGE_MONITOR_LATENCY_BINS - 1u; ++k) {
            latency_edges[k] = (uint32_t)((reference * (k + 1u)) >> 3);
        }
    }
    if (ticks < stats.latency_min) {
        stats.latency_min = ticks;
    }
    if (ticks > stats.latency_max) {
        stats.latency_max = ticks;
    }
    stats.latency_sum = add_u64(stats.latency_sum, ticks);
    count_in(&stats.latency_histogram[bin_u32(ticks, latency_edges, TINYEDGE_MONITOR_LATENCY_BINS - 1u)]);
}

static void record_input(const tinyedge_monitor_spec *spec, const int8_t *input)
{
    const uint32_t bytes = spec->input_bytes;
    const uint32_t stride = spec->input_stride;
    uint32_t bins[TINYEDGE_MONITOR_INPUT_BINS];
    uint32_t low = 0u;
    uint32_t high = 0u;
    int32_t sum = 0;
    int64_t squares = 0;
    uint32_t i;
    memset(bins, 0, sizeof bins);
    for (i = 0u; i < bytes; i += stride) {
        int32_t value = input[i];
        sum += value;
        squares += (int64_t)value * value;
        low += (uint32_t)(value == -128);
        high += (uint32_t)(value == 127);
        ++bins[(uint32_t)(value + 128) >> 4];
    }
    stats.input_values = add_u32(stats.input_values, spec->input_examined);
    stats.input_low = add_u32(stats.input_low, low);
    stats.input_high = add_u32(stats.input_high, high);
    stats.input_sum = add_i64(stats.input_sum, sum);
    stats.input_sum_squares = add_u64(stats.input_sum_squares, (uint64_t)squares);
    for (i = 0u; i < TINYEDGE_MONITOR_INPUT_BINS; ++i) {
        stats.input_histogram[i] = add_u32(stats.input_histogram[i], bins[i]);
    }
}

static void record_classifier(const tinyedge_monitor_spec *spec, const int8_t *output)
{
    uint32_t top = 0u;
    uint32_t i;
    for (i = 1u; i < spec->output_bytes; ++i) {
        if (output[i] > output[top]) {
            top = i;
        }
    }
    count_in(&stats.class_histogram[top < spec->classes ? top : spec->classes - 1u]);
    count_in(&stats.confidence_histogram[bin_i32(output[top], spec->confidence_edges,
                                                 TINYEDGE_MONITOR_CONFIDENCE_BINS - 1u)]);
}

static void record_regression(const tinyedge_monitor_spec *spec, const int8_t *output)
{
    uint32_t i;
    for (i = 0u; i < spec->output_bytes; ++i) {
        count_in(&stats.output_histogram[bin_code(output[i], spec->output_edges,
                                                  TINYEDGE_MONITOR_OUTPUT_BINS - 1u)]);
    }
}

/* The reconstruction error in fixed point: sum of ((x - zi) * 256 - (y - zo) * R8)^2 over every
 * element, R8 = 256 * output scale / input scale (so input units, times 256). */
static void record_autoencoder(const tinyedge_monitor_spec *spec, const int8_t *input, const int8_t *output)
{
    const int32_t input_zero = spec->input_zero_point;
    const int32_t output_zero = spec->output_zero_point;
    const int32_t multiplier = spec->error_multiplier;
    uint64_t error = 0u;
    uint32_t i;
    for (i = 0u; i < spec->input_bytes; ++i) {
        int32_t difference = (input[i] - input_zero) * 256 - (output[i] - output_zero) * multiplier;
        uint64_t square = (uint64_t)((int64_t)difference * difference);
        error += square;
        if (error < square) {
            error = UINT64_MAX;   /* saturated: the rest cannot lower it */
            break;
        }
    }
    count_in(&stats.output_histogram[bin_u64(error, spec->error_edges, TINYEDGE_MONITOR_OUTPUT_BINS - 1u)]);
    stats.error_sum = add_u64(stats.error_sum, error);
}

void tinyedge_monitor_record(const int8_t *input, const int8_t *output, uint32_t ticks)
{
    const tinyedge_monitor_spec *spec = &tinyedge_monitor_model;
    count_in(&stats.count);
    record_latency(ticks);
    record_input(spec, input);
    if (spec->kind == TINYEDGE_MONITOR_CLASSIFIER) {
        record_classifier(spec, output);
    } else if (spec->kind == TINYEDGE_MONITOR_REGRESSION) {
        record_regression(spec, output);
    } else {
        record_autoencoder(spec, input, output);
    }
}

void tinyedge_monitor_snapshot(tinyedge_monitor_stats *out)
{
    if (out != NULL) {
        *out = stats;
    }
}

void tinyedge_monitor_reset(void)
{
    memset(&stats, 0, sizeof stats);
}
