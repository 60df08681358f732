/* The models behind the validation protocol: a table of one or more, defined by a small adapter.
 *
 * The protocol never knows which runtime runs the model (tinyedge's native C, TFLM glue, a test
 * function). An adapter names the model, gives its int8 input/output sizes, the output quantization
 * (to print `m-results` as dequantized floats, as the MLPerf Tiny runner expects) and the function that
 * runs one inference. For one model the adapter is one line:
 *
 *     #include "te_model.h"
 *     #include "tinyedge.h"   // int tinyedge_model_run(const int8_t *, int8_t *) + TINYEDGE_MODEL_* sizes
 *     TE_MODEL_DEFINE("digits", "3f2a...", TINYEDGE_MODEL_INPUT_BYTES, TINYEDGE_MODEL_OUTPUT_BYTES,
 *                     0.00390625f, -128, tinyedge_model_init, tinyedge_model_run);
 *
 * Several models: one TE_MODEL_ENTRY each, then TE_MODEL_TABLE(&first, &second, ...).
 */
#ifndef TINYEDGE_TE_MODEL_H
#define TINYEDGE_TE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct te_model {
    /* Printed by `te-model` and `profile`; keep to [A-Za-z0-9._-] so lines stay parseable. */
    const char *name;
    /* Lower-case hex of the SHA-256 of the model file, or a prefix of it (16 digits or more). */
    const char *sha256;
    size_t input_bytes;
    size_t output_bytes;
    /* real value = (q - output_zero_point) * output_scale, as the MLPerf Tiny reference prints. */
    float output_scale;
    int32_t output_zero_point;
    /* Runs once at start-up before `m-init-done` (every model's, in table order); NULL when there is
     * nothing to prepare.
     * Returns 0 on success. */
    int (*init)(void);
    /* Runs one inference; returns 0 on success. Must not modify `input`. */
    int (*invoke)(const int8_t *input, int8_t *output);
    /* Static buffers of input_bytes and output_bytes (TE_MODEL_DEFINE provides them): `db` loads
     * into the input buffer, every inference writes the output buffer. */
    int8_t *input_buffer;
    int8_t *output_buffer;
} te_model;

/* The models this firmware carries, in order, defined by exactly one adapter (TE_MODEL_TABLE, or
 * TE_MODEL_DEFINE for a single model). The protocol runs one at a time: the first is selected at boot,
 * `te-select NAME` selects another, and every command acts on the selected one. */
extern const te_model *const te_model_table[];
extern const size_t te_model_count;

/* Word-aligned static storage, so a runtime may load its input with 32-bit accesses. */
#define TE_MODEL_BUFFER_(NAME, BYTES) \
    static union { int8_t bytes[BYTES]; uint32_t align_; } NAME

/* Defines the model entry ID (static) and its buffers. INIT may be NULL. */
#define TE_MODEL_ENTRY(ID, NAME, SHA256, INPUT_BYTES, OUTPUT_BYTES, OUTPUT_SCALE, OUTPUT_ZERO_POINT,   \
                       INIT, INVOKE)                                                                  \
    TE_MODEL_BUFFER_(ID##_input_storage_, INPUT_BYTES);                                                \
    TE_MODEL_BUFFER_(ID##_output_storage_, OUTPUT_BYTES);                                              \
    static const te_model ID = {                                                                       \
        (NAME), (SHA256), (INPUT_BYTES), (OUTPUT_BYTES), (OUTPUT_SCALE), (OUTPUT_ZERO_POINT),          \
        (INIT), (INVOKE), ID##_input_storage_.bytes, ID##_output_storage_.bytes}

/* Defines te_model_table from the addresses of entries: TE_MODEL_TABLE(&first, &second). */
#define TE_MODEL_TABLE(...)                                                                            \
    const te_model *const te_model_table[] = {__VA_ARGS__};                                            \
    const size_t te_model_count = sizeof te_model_table / sizeof te_model_table[0]

/* A firmware with one model: its entry and a table of one. INIT may be NULL. */
#define TE_MODEL_DEFINE(NAME, SHA256, INPUT_BYTES, OUTPUT_BYTES, OUTPUT_SCALE, OUTPUT_ZERO_POINT,      \
                        INIT, INVOKE)                                                                 \
    TE_MODEL_ENTRY(te_model_only_, NAME, SHA256, INPUT_BYTES, OUTPUT_BYTES, OUTPUT_SCALE,              \
                   OUTPUT_ZERO_POINT, INIT, INVOKE);                                                  \
    TE_MODEL_TABLE(&te_model_only_)

#ifdef __cplusplus
}
#endif

#endif /* TINYEDGE_TE_MODEL_H */
