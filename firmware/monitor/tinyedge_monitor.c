/* The model monitor's counters (tinyedge_monitor.h). Per inference: a few dozen instructions, about a
 * dozen per examined input value (every input_stride-th) and, for an autoencoder, a few per input
 * element. No counter wraps: once another inference could overflow input_values (2^32 - 1),
 * the statistics stand still, consistent with each other, until a reset. Below that nothing else can
 * overflow (a bin holds at most its histogram's sum; the sums stay far inside 64 bits), except the
 * regression's output bins and the autoencoder's error sum, which saturate. */
#include "tinyedge_monitor.h"

#include <stddef.h>
#include <string.h>

/* Compiled for size: at -O2 GCC unrolls and inlines for a few instructions an inference, at the cost of
 * flash the monitor must not take (benchmarks/monitor_cost.py measures both). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif

static tinyedge_monitor_stats stats;

/* np.searchsorted(edges, value, side="right") over ascending edges: how many are <= value. */
#define TINYEDGE_MONITOR_BIN_(bin, value, edges, count)                                                \
    do {                                                                                              \
        (bin) = 0u;                                                                                   \
        while ((bin) < (count) && (value) >= (edges)[(bin)]) {                                        \
            ++(bin);                                                                                  \
        }                                                                                             \
    } while (0)

/* The latency bins are eighths of the reference (the first inference's ticks after a reset): bin b
 * counts the edges floor(reference * k / 8), k = 1..15, at or below the ticks, which is
 * min(15, (8 * (ticks + 1) - 1) / reference): one division, no table of edges. */
static void record_latency(uint32_t ticks)
{
    uint64_t scaled = ((uint64_t)ticks << 3) + 7u;
    uint32_t reference;
    uint32_t bin;
    if (stats.latency_reference == 0u) {   /* the first inference after a reset */
        stats.latency_reference = ticks > 0u ? ticks : 1u;
        stats.latency_min = ticks;
        stats.latency_max = ticks;
    }
    reference = stats.latency_reference;
    if (ticks < stats.latency_min) {
        stats.latency_min = ticks;
    }
    if (ticks > stats.latency_max) {
        stats.latency_max = ticks;
    }
    stats.latency_sum += ticks;
    bin = (scaled >> 32) == 0u ? (uint32_t)scaled / reference : (uint32_t)(scaled / reference);
    stats.latency_histogram[bin < TINYEDGE_MONITOR_LATENCY_BINS ? bin : TINYEDGE_MONITOR_LATENCY_BINS - 1u] += 1u;
}

/* The examined input values: offset codes u = v + 128 (0..255), so -128 is u == 0 and 127 is u == 255,
 * counted without branches. */
static void record_input(const tinyedge_monitor_spec *spec, const int8_t *input)
{
    const uint32_t bytes = spec->input_bytes;
    const uint32_t stride = spec->input_stride;
    uint32_t *bins = stats.input_histogram;
    uint32_t low = 0u;
    uint32_t high = 0u;
    uint32_t sum = 0u;      /* of the offset codes: at most 255 per value (n < 2^24: render.py) */
    uint64_t squares = 0u;
    uint32_t i;
    for (i = 0u; i < bytes; i += stride) {
        int32_t value = input[i];
        uint32_t offset = (uint32_t)(value + 128);
        sum += offset;
        squares += (uint64_t)((int64_t)value * value);
        low += (offset - 1u) >> 31;
        high += (offset + 1u) >> 8;
        ++bins[offset >> 4];
    }
    stats.input_values += spec->input_examined;
    stats.input_low += low;
    stats.input_high += high;
    stats.input_sum += (int64_t)sum - (int64_t)spec->input_examined * 128;
    stats.input_sum_squares += squares;
}

#if TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_CLASSIFIER

static void record_output(const tinyedge_monitor_spec *spec, const int8_t *input, const int8_t *output)
{
    uint32_t top = 0u;
    uint32_t i;
    uint32_t bin;
    int32_t best = output[0];
    (void)input;
    for (i = 1u; i < spec->output_bytes; ++i) {
        if (output[i] > best) {
            best = output[i];
            top = i;
        }
    }
    stats.class_histogram[top < TINYEDGE_MONITOR_CLASSES ? top : TINYEDGE_MONITOR_CLASSES - 1u] += 1u;
    TINYEDGE_MONITOR_BIN_(bin, best, spec->confidence_edges, TINYEDGE_MONITOR_CONFIDENCE_BINS - 1u);
    stats.confidence_histogram[bin] += 1u;
}

#elif TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_REGRESSION

static void record_output(const tinyedge_monitor_spec *spec, const int8_t *input, const int8_t *output)
{
    uint32_t i;
    (void)input;
    for (i = 0u; i < spec->output_bytes; ++i) {
        const int32_t value = output[i];
        uint32_t bin;
        TINYEDGE_MONITOR_BIN_(bin, value, spec->output_edges, TINYEDGE_MONITOR_OUTPUT_BINS - 1u);
        if (stats.output_histogram[bin] != UINT32_MAX) {   /* count * output bytes may exceed it */
            ++stats.output_histogram[bin];
        }
    }
}

#else

static uint64_t add_u64(uint64_t total, uint64_t value)
{
    uint64_t sum = total + value;
    return sum < total ? UINT64_MAX : sum;
}

/* The reconstruction error in fixed point: sum of ((x - zi) * 256 - (y - zo) * R8)^2 over every
 * element, R8 = 256 * output scale / input scale (so input units, times 256). */
static void record_output(const tinyedge_monitor_spec *spec, const int8_t *input, const int8_t *output)
{
    const int32_t input_zero = spec->input_zero_point;
    const int32_t output_zero = spec->output_zero_point;
    const int32_t multiplier = spec->error_multiplier;
    uint64_t error = 0u;
    uint32_t i;
    uint32_t bin;
    for (i = 0u; i < spec->input_bytes; ++i) {
        int32_t difference = (input[i] - input_zero) * 256 - (output[i] - output_zero) * multiplier;
        uint64_t square = (uint64_t)((int64_t)difference * difference);
        error += square;
        if (error < square) {
            error = UINT64_MAX;   /* saturated: the rest cannot lower it */
            break;
        }
    }
    TINYEDGE_MONITOR_BIN_(bin, error, spec->error_edges, TINYEDGE_MONITOR_OUTPUT_BINS - 1u);
    stats.output_histogram[bin] += 1u;
    stats.error_sum = add_u64(stats.error_sum, error);
}

#endif

void tinyedge_monitor_record(const int8_t *input, const int8_t *output, uint32_t ticks)
{
    /* count <= input_values / input_examined: while input_values has room, so has count */
    if (stats.input_values > UINT32_MAX - tinyedge_monitor_model.input_examined) {
        return;   /* a counter would overflow: the statistics stand still until a reset */
    }
    ++stats.count;
    record_latency(ticks);
    record_input(&tinyedge_monitor_model, input);
    record_output(&tinyedge_monitor_model, input, output);
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
