/* tinyedge_api.h: what every generated model header (<prefix>_model.h) and tinyedge.h share.
 *
 *   - status codes returned by <prefix>_init and <prefix>_invoke, and tinyedge_status_text();
 *   - placement: where the weights, the constant tables and the static arena go (sections,
 *     alignment), and whether the arena comes from the caller;
 *   - tinyedge_quantize / tinyedge_dequantize, the firmware's int8 rounding.
 *
 * Configure it with -D in the build, or in a header: define TINYEDGE_CONFIG_HEADER as its name
 * ("my_config.h" with the quotes), or edit the tinyedge_config.h generated beside this file (found
 * by __has_include where the compiler has it). Every setting below is #ifndef-guarded, so -D wins.
 *
 *   TINYEDGE_WEIGHTS_SECTION   ".name": the weights (constant tensors, rearranged kernel data)
 *   TINYEDGE_PARAMS_SECTION    ".name": the constant tables (operator parameter structs,
 *                              per-channel multipliers and shifts, I/O size tables)
 *   TINYEDGE_ARENA_SECTION     ".name": the static activation arena. A zero-initialized array in a
 *                              named section is stored in the image unless the linker script marks
 *                              the section NOLOAD (or its name starts with ".bss.")
 *   TINYEDGE_WEIGHTS_ALIGN     alignment of each weight array (default 4)
 *   TINYEDGE_ARENA_ALIGN       alignment of the static arena and the least a caller's arena must
 *                              have (default 16; a multiple of 16)
 *   TINYEDGE_ARENA_FROM_CALLER no static arena is compiled: <prefix>_init takes the caller's
 *
 * The generated code places objects with TINYEDGE_WEIGHTS_PLACEMENT, TINYEDGE_PARAMS_PLACEMENT and
 * TINYEDGE_ARENA_PLACEMENT, written after the declarator (`static const int8_t w[4] <here> = ...`).
 * GCC and clang (and armclang) get __attribute__((section(..), aligned(..))) from the settings above;
 * other compilers get nothing: define the three macros yourself in the config header for them (IAR:
 * `@ ".te_weights"`; alignment there comes from its #pragma data_alignment, placed by you).
 */
#ifndef TINYEDGE_API_H
#define TINYEDGE_API_H

#include <stddef.h>
#include <stdint.h>

#if defined(TINYEDGE_CONFIG_HEADER)
#include TINYEDGE_CONFIG_HEADER
#elif defined(__has_include)
#if __has_include("tinyedge_config.h")
#include "tinyedge_config.h"
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------------------ */

#define TINYEDGE_OK 0
#define TINYEDGE_ERROR_NULL_ARGUMENT (-1)     /* a context, input or output pointer is NULL */
#define TINYEDGE_ERROR_ARENA_TOO_SMALL (-2)   /* arena_bytes < <PREFIX>_ARENA_SIZE */
#define TINYEDGE_ERROR_ARENA_MISALIGNED (-3)  /* the arena is not TINYEDGE_ARENA_ALIGN-aligned */
#define TINYEDGE_ERROR_NO_ARENA (-4)          /* TINYEDGE_ARENA_FROM_CALLER and init got no arena */
#define TINYEDGE_ERROR_NOT_INITIALIZED (-5)   /* invoke on a context init has not accepted */
#define TINYEDGE_ERROR_RUNTIME (-6)           /* the TFLM runtime failed to allocate or invoke */

static inline const char *tinyedge_status_text(int status)
{
    switch (status) {
    case TINYEDGE_OK: return "ok";
    case TINYEDGE_ERROR_NULL_ARGUMENT: return "a pointer argument is NULL";
    case TINYEDGE_ERROR_ARENA_TOO_SMALL: return "the arena is smaller than the model's ARENA_SIZE";
    case TINYEDGE_ERROR_ARENA_MISALIGNED: return "the arena is not aligned to TINYEDGE_ARENA_ALIGN";
    case TINYEDGE_ERROR_NO_ARENA: return "no arena given (built with TINYEDGE_ARENA_FROM_CALLER)";
    case TINYEDGE_ERROR_NOT_INITIALIZED: return "the model context is not initialized";
    case TINYEDGE_ERROR_RUNTIME: return "the runtime failed to allocate or run the model";
    default: return "unknown status";
    }
}

/* ---- placement --------------------------------------------------------------------------------- */

#ifndef TINYEDGE_WEIGHTS_ALIGN
#define TINYEDGE_WEIGHTS_ALIGN 4
#endif
#ifndef TINYEDGE_ARENA_ALIGN
#define TINYEDGE_ARENA_ALIGN 16
#endif
#if TINYEDGE_ARENA_ALIGN % 16 != 0
#error "TINYEDGE_ARENA_ALIGN must be a multiple of 16"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TINYEDGE_ATTRIBUTE_ALIGNED_(n) __attribute__((aligned(n)))
#define TINYEDGE_ATTRIBUTE_SECTION_(name) __attribute__((section(name)))
#else
#define TINYEDGE_ATTRIBUTE_ALIGNED_(n)
#define TINYEDGE_ATTRIBUTE_SECTION_(name)
#endif

#ifndef TINYEDGE_WEIGHTS_PLACEMENT
#ifdef TINYEDGE_WEIGHTS_SECTION
#define TINYEDGE_WEIGHTS_PLACEMENT \
    TINYEDGE_ATTRIBUTE_SECTION_(TINYEDGE_WEIGHTS_SECTION) TINYEDGE_ATTRIBUTE_ALIGNED_(TINYEDGE_WEIGHTS_ALIGN)
#else
#define TINYEDGE_WEIGHTS_PLACEMENT TINYEDGE_ATTRIBUTE_ALIGNED_(TINYEDGE_WEIGHTS_ALIGN)
#endif
#endif

#ifndef TINYEDGE_PARAMS_PLACEMENT
#ifdef TINYEDGE_PARAMS_SECTION
#define TINYEDGE_PARAMS_PLACEMENT TINYEDGE_ATTRIBUTE_SECTION_(TINYEDGE_PARAMS_SECTION)
#else
#define TINYEDGE_PARAMS_PLACEMENT
#endif
#endif

#ifndef TINYEDGE_ARENA_PLACEMENT
#ifdef TINYEDGE_ARENA_SECTION
#define TINYEDGE_ARENA_PLACEMENT \
    TINYEDGE_ATTRIBUTE_SECTION_(TINYEDGE_ARENA_SECTION) TINYEDGE_ATTRIBUTE_ALIGNED_(TINYEDGE_ARENA_ALIGN)
#else
#define TINYEDGE_ARENA_PLACEMENT TINYEDGE_ATTRIBUTE_ALIGNED_(TINYEDGE_ARENA_ALIGN)
#endif
#endif

/* ---- int8 quantization ------------------------------------------------------------------------- */

/* real -> int8 with a tensor's scale and zero point: value / scale rounded half away from zero,
 * plus the zero point, saturated to int8; NaN gives the zero point. tinyedge's host side quantizes
 * with the same float arithmetic (tinyedge/int8_io.py). */
static inline int8_t tinyedge_quantize(float value, float scale, int32_t zero_point)
{
    float scaled = value / scale;
    float rounded = scaled >= 0.0f ? scaled + 0.5f : scaled - 0.5f;
    int32_t q;
    /* Clamped before the conversion (a float outside int32's range converts to an undefined value);
     * +-256 still saturates whatever the zero point. */
    if (rounded != rounded) rounded = 0.0f;
    if (rounded > 256.0f) rounded = 256.0f;
    if (rounded < -256.0f) rounded = -256.0f;
    q = (int32_t)rounded + zero_point;
    return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
}

/* int8 -> real with a tensor's scale and zero point: (value - zero point) * scale. */
static inline float tinyedge_dequantize(int8_t value, float scale, int32_t zero_point)
{
    return (float)((int32_t)value - zero_point) * scale;
}

#ifdef __cplusplus
}
#endif

#endif /* TINYEDGE_API_H */
