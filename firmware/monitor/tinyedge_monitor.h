/* The model monitor: running statistics of every inference of the firmware's (first) model, kept on
 * the device for `tinyedge monitor`, the protocol's `te-monitor` and the firmware's own reporting
 * (BLE, logs): call tinyedge_monitor_snapshot() and send what it copies.
 *
 * A build with [monitor] enabled = true defines TINYEDGE_MONITOR (tinyedge_config.h) and wraps
 * tinyedge_model_run (tinyedge_monitor_spec.c), so every inference, from the protocol or from user
 * code, is recorded with its ticks. The definitions (bins, edges, saturation) are docs/monitor.md's and
 * the host's numpy mirror's (tinyedge.monitor.stats): integer only, every counter saturates at its
 * type's maximum, never wraps. No heap, no float, no division.
 */
#ifndef TINYEDGE_MONITOR_H
#define TINYEDGE_MONITOR_H

#include <stdint.h>

/* The build's settings (TINYEDGE_MONITOR_KIND, TINYEDGE_MONITOR_CLASSES), found as tinyedge_api.h
 * finds them, unless a -D gave them already. */
#if !defined(TINYEDGE_MONITOR_KIND)
#if defined(TINYEDGE_CONFIG_HEADER)
#include TINYEDGE_CONFIG_HEADER
#elif defined(__has_include)
#if __has_include("tinyedge_config.h")
#include "tinyedge_config.h"
#endif
#endif
#endif

/* What the model is, so what its outputs mean: fixed at build time, so a firmware carries the code of
 * its own kind only. */
#define TINYEDGE_MONITOR_CLASSIFIER 0
#define TINYEDGE_MONITOR_REGRESSION 1
#define TINYEDGE_MONITOR_AUTOENCODER 2

#if !defined(TINYEDGE_MONITOR_KIND)
#error "TINYEDGE_MONITOR_KIND is not defined: tinyedge_config.h of a build with [monitor] enabled defines it"
#endif

/* Bins of the class histogram: min(output bytes, 64) for a classifier (1 for other kinds). */
#ifndef TINYEDGE_MONITOR_CLASSES
#define TINYEDGE_MONITOR_CLASSES 1
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define TINYEDGE_MONITOR_LATENCY_BINS 16u
#define TINYEDGE_MONITOR_INPUT_BINS 16u
#define TINYEDGE_MONITOR_CONFIDENCE_BINS 10u
#define TINYEDGE_MONITOR_OUTPUT_BINS 16u

typedef struct tinyedge_monitor_stats {
    uint32_t count;                       /* inferences since the last reset */
    uint32_t latency_min, latency_max;    /* board ticks of one inference */
    uint32_t latency_reference;           /* the first inference's ticks (at least 1); 0 before it */
    uint64_t latency_sum;
    uint32_t latency_histogram[TINYEDGE_MONITOR_LATENCY_BINS];   /* eighths of the reference */
    uint32_t input_values;                /* input values examined (every input_stride-th) */
    uint32_t input_low, input_high;       /* of them, saturated at -128 / 127 */
    int64_t input_sum;
    uint64_t input_sum_squares;
    uint32_t input_histogram[TINYEDGE_MONITOR_INPUT_BINS];       /* (code + 128) >> 4 */
    uint32_t class_histogram[TINYEDGE_MONITOR_CLASSES];          /* classifier: top-1 class */
    uint32_t confidence_histogram[TINYEDGE_MONITOR_CONFIDENCE_BINS];  /* classifier: top-1 code */
    uint32_t output_histogram[TINYEDGE_MONITOR_OUTPUT_BINS];     /* regression: output codes;
                                                                    autoencoder: error per inference */
    uint64_t error_sum;                   /* autoencoder: sum of the errors */
} tinyedge_monitor_stats;

/* The model's constants, fixed at build time (tinyedge.monitor.spec.MonitorSpec, rendered into
 * tinyedge_monitor_spec.c). A bin is the number of its edges at or below the value. */
typedef struct tinyedge_monitor_spec {
    uint32_t input_bytes;                 /* n */
    uint32_t input_stride;                /* examined input indices: 0, s, 2s, ... < n */
    uint32_t input_examined;              /* ceil(n / s) */
    uint32_t output_bytes;
#if TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_CLASSIFIER
    int16_t confidence_edges[TINYEDGE_MONITOR_CONFIDENCE_BINS - 1u];   /* int8 codes; 128: never reached */
#elif TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_REGRESSION
    int8_t output_edges[TINYEDGE_MONITOR_OUTPUT_BINS - 1u];
#else
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t error_multiplier;             /* 256 * output scale / input scale, rounded */
    uint64_t error_edges[TINYEDGE_MONITOR_OUTPUT_BINS - 1u];
#endif
} tinyedge_monitor_spec;

/* The monitored model's constants (generated: tinyedge_monitor_spec.c). */
extern const tinyedge_monitor_spec tinyedge_monitor_model;

/* Copies the statistics so far into `out`. Call it where no inference runs at the same time (the
 * statistics change during tinyedge_model_run). */
void tinyedge_monitor_snapshot(tinyedge_monitor_stats *out);

/* Starts the statistics afresh (the next inference sets the latency reference again). */
void tinyedge_monitor_reset(void);

/* Adds one inference: its input (tinyedge_monitor_model.input_bytes), its output and its duration in
 * board ticks. tinyedge_model_run calls it after every successful inference. */
void tinyedge_monitor_record(const int8_t *input, const int8_t *output, uint32_t ticks);

#ifdef __cplusplus
}
#endif

#endif /* TINYEDGE_MONITOR_H */
