/* Per-step profiling of a layer build: the ticks and the CRC-32 of each step's output, for the
 * protocol's `te-layers` and `te-tensor` commands (docs/protocol.md).
 *
 * A layer build is one whose tinyedge_config.h (or a -D) defines TE_LAYERS. There the generated model
 * calls TE_STEP_DONE(step, output, bytes) after each step, which tinyedge_config.h maps to
 * te_layers_step(); the TFLM glue calls te_layers_step(op, output, bytes) from its profiler (a TFLM
 * tree's interpreter preserves all tensors), or te_layers_step(op, NULL, 0) with Chirale's. Without
 * TE_LAYERS nothing here is compiled, and TE_STEP_DONE is ((void)0).
 */
#ifndef TINYEDGE_TE_LAYERS_H
#define TINYEDGE_TE_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* The build's settings, found as tinyedge_api.h finds them. */
#if !defined(TE_LAYERS)
#if defined(TINYEDGE_CONFIG_HEADER)
#include TINYEDGE_CONFIG_HEADER
#elif defined(__has_include)
#if __has_include("tinyedge_config.h")
#include "tinyedge_config.h"
#endif
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TE_LAYERS)

/* Steps recorded per inference (tinyedge_config.h gives the model's count); later steps are dropped. */
#ifndef TE_LAYERS_MAX_STEPS
#define TE_LAYERS_MAX_STEPS 256u
#endif

typedef struct te_layer_record {
    uint64_t ticks;   /* te_port_ticks() from the previous mark to the end of the step */
    uint32_t crc;     /* CRC-32 (IEEE 802.3, as zlib.crc32) of the step's output; 0 without one */
    uint32_t bytes;   /* bytes of the step's output that the CRC covers */
} te_layer_record;

/* Starts an inference: forgets the last one's steps and sets the mark. */
void te_layers_begin(void);

/* Ends step `step`: its ticks since the mark and the CRC of its `bytes` output bytes (`output` may be
 * NULL: no CRC), then sets the mark again, so the time spent here counts for no step. */
void te_layers_step(uint32_t step, const void *output, size_t bytes);

/* Steps recorded since te_layers_begin (one past the highest step index seen) and step k's record
 * (NULL past the count, or for a step that did not run). */
size_t te_layers_count(void);
const te_layer_record *te_layers_record(size_t k);

/* Ticks spent inside te_layers_step (CRCs, the tensor sink) since the last call; the protocol takes
 * them out of the measured inference time. */
uint64_t te_layers_take_excluded(void);

/* Hands step `step`'s output to `sink` as it ends (for `te-tensor`); NULL stops. */
typedef void (*te_layers_sink)(uint32_t step, const void *output, size_t bytes);
void te_layers_watch(uint32_t step, te_layers_sink sink);

/* CRC-32 of `bytes` bytes, continuing `crc` (0 to start), as zlib.crc32(data, crc). */
uint32_t te_layers_crc32(uint32_t crc, const void *data, size_t bytes);

#endif /* TE_LAYERS */

#ifdef __cplusplus
}
#endif

#endif /* TINYEDGE_TE_LAYERS_H */
