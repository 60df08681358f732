/* tinyedge native runtime: the few SIMD operations the fast kernels are written in.
 *
 * On cores with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4, M7, M33 with DSP, M55) each one is a
 * single instruction through the ACLE intrinsics (SXTB16, SMLAD, SMLABB, SMLATT); everywhere else
 * (other cores, the host) it is portable C99 computing exactly the same value, so the host tests of
 * the fast kernels check the very arithmetic the microcontroller runs.
 *
 * A "pair" is a 32-bit word holding two int16 halves: low = bits 0..15, high = bits 16..31.
 */
#ifndef TE_SIMD_H
#define TE_SIMD_H

#include <stdint.h>
#include <string.h>

#include "tinyedge_native.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define TE_HAVE_DSP 1
#else
#define TE_HAVE_DSP 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TE_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define TE_ALWAYS_INLINE static inline
#endif

/* A 32-bit word in a buffer that is also read or written as bytes (the arena, scratch rows): aligned,
 * so the compiler may use LDRD/LDM, and exempt from type-based aliasing. */
#if defined(__GNUC__) || defined(__clang__)
typedef uint32_t __attribute__((may_alias)) te_word;
/* Two words in one load (LDRD): low word first, as on every little-endian core we build for. */
typedef uint64_t __attribute__((may_alias, aligned(4))) te_dword;
#else
typedef uint32_t te_word;
typedef uint64_t te_dword;
#endif

/* Four bytes from any address (unaligned word loads are legal on Cortex-M3 and later; memcpy keeps
 * the C free of aliasing and alignment assumptions and compiles to one LDR). */
static inline uint32_t te_read32(const void *address) {
    uint32_t word;
    memcpy(&word, address, sizeof word);
    return word;
}

static inline void te_write32(void *address, uint32_t word) {
    memcpy(address, &word, sizeof word);
}

static inline int32_t te_low16(uint32_t pair) { return (int32_t)(int16_t)(pair & 0xFFFFu); }
static inline int32_t te_high16(uint32_t pair) { return (int32_t)(int16_t)(pair >> 16); }

#if TE_HAVE_DSP

/* Bytes 0 and 2 of `word`, sign-extended into a pair. */
static inline uint32_t te_sxtb16_even(uint32_t word) { return (uint32_t)__sxtb16((int32_t)word); }

/* Bytes 1 and 3 of `word`, sign-extended into a pair (SXTB16 with its free rotation). */
static inline uint32_t te_sxtb16_odd(uint32_t word) {
    uint32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(word));
    return result;
}

/* acc + a.low * b.low + a.high * b.high */
static inline int32_t te_smlad(uint32_t a, uint32_t b, int32_t acc) {
    return __smlad((int32_t)a, (int32_t)b, acc);
}

/* acc + a.low * b.low */
static inline int32_t te_smlabb(uint32_t a, uint32_t b, int32_t acc) {
    return __smlabb((int32_t)a, (int32_t)b, acc);
}

/* acc + a.high * b.high */
static inline int32_t te_smlatt(uint32_t a, uint32_t b, int32_t acc) {
    return __smlatt((int32_t)a, (int32_t)b, acc);
}

#else

static inline uint32_t te_sxtb16_even(uint32_t word) {
    const uint32_t low = (uint32_t)(int32_t)(int8_t)(word & 0xFFu) & 0xFFFFu;
    const uint32_t high = (uint32_t)(int32_t)(int8_t)((word >> 16) & 0xFFu) & 0xFFFFu;
    return low | (high << 16);
}

static inline uint32_t te_sxtb16_odd(uint32_t word) { return te_sxtb16_even(word >> 8); }

static inline int32_t te_smlad(uint32_t a, uint32_t b, int32_t acc) {
    return acc + te_low16(a) * te_low16(b) + te_high16(a) * te_high16(b);
}

static inline int32_t te_smlabb(uint32_t a, uint32_t b, int32_t acc) {
    return acc + te_low16(a) * te_low16(b);
}

static inline int32_t te_smlatt(uint32_t a, uint32_t b, int32_t acc) {
    return acc + te_high16(a) * te_high16(b);
}

#endif

/* TFLM's MultiplyByQuantizedMultiplier for accumulators the generator has proven small enough (see
 * accumulators_small in codegen/fast.py). The multiplier is positive, so the saturating case cannot occur and the
 * rounding doubling high multiply is (x * m + 2^30) >> 31 for either sign of x (any int32 x, so the
 * left shift may wrap exactly as TFLM's does). A shift is either left or right; the rounding right
 * shift (ties away from zero) is (x + 2^(r-1) - [x < 0]) >> r, whose sum the generator has checked
 * cannot overflow. */
TE_ALWAYS_INLINE int32_t te_requantize_small(int32_t acc, int32_t multiplier, int32_t shift) {
    int32_t high;
    if (shift > 0) {
        acc = (int32_t)((uint32_t)acc << shift);
    }
    high = (int32_t)(((int64_t)acc * multiplier + (INT64_C(1) << 30)) >> 31);
    if (shift < 0) {
        const int right = -shift;
        high = (high + (INT32_C(1) << (right - 1)) + (high >> 31)) >> right;
    }
    return high;
}

/* One int8 output: requantized, offset and clamped. */
TE_ALWAYS_INLINE int8_t te_output_small(int32_t acc, int32_t multiplier, int32_t shift, int32_t offset,
                                        int32_t low, int32_t high) {
    int32_t value = te_requantize_small(acc, multiplier, shift) + offset;
    value = value < low ? low : value;
    return (int8_t)(value > high ? high : value);
}

/* ---- te_requant: TFLM's requantization, rearranged at generation time -----------------------------
 *
 * TFLM computes RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc << left, m), right) + offset.
 * For a multiplier m in [2^30, 2^31) and an accumulator the generator has bounded (codegen/fast.py,
 * requant_entries), the same value is
 *   hi  = SMMULR(acc << (left + 1), m)          = (acc * 2^left * m + 2^30) >> 31, exactly
 *   out = (hi + addend + (hi >> 31)) >> right   with addend = 2^(right-1) + (offset << right)
 * i.e. the doubling is moved into the shift, the rounding toward zero on ties into the sign term and
 * the output offset into the addend (adding a multiple of 2^right commutes with the floor shift).
 * right >= 1 always; a channel whose output cannot depend on its input (all weights zero) gets
 * multiplier 0 and an addend that yields its constant output. Seven instructions with the DSP
 * extension. */
/* te_requant itself is declared in tinyedge_native.h (the generated tables use it). */

#if TE_HAVE_DSP
/* (a * b + 2^31) >> 32, the rounded high word of the product. */
TE_ALWAYS_INLINE int32_t te_smmulr(int32_t a, int32_t b) {
    int32_t result;
    __asm__("smmulr %0, %1, %2" : "=r"(result) : "r"(a), "r"(b));
    return result;
}
/* x clamped to [-128, 127]. GCC's arm_acle.h __ssat macro stores the builtin's unsigned result in an
 * int32_t, a -Wsign-conversion warning at our call site that no cast here can reach. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-conversion"
#endif
TE_ALWAYS_INLINE int32_t te_saturate8(int32_t x) { return __ssat(x, 8); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
TE_ALWAYS_INLINE int32_t te_smmulr(int32_t a, int32_t b) {
    return (int32_t)(((int64_t)a * b + (INT64_C(1) << 31)) >> 32);
}
TE_ALWAYS_INLINE int32_t te_saturate8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
#endif

/* The output value before clamping (offset included). */
TE_ALWAYS_INLINE int32_t te_requant_apply(int32_t acc, const te_requant *q) {
    const int32_t hi = te_smmulr((int32_t)((uint32_t)acc << q->left_shift), q->multiplier);
    return (hi + q->addend + (hi >> 31)) >> q->right_shift;
}

/* Clamps to the activation range; `full_range` (a constant where inlined) means [-128, 127], one
 * SSAT instruction. */
TE_ALWAYS_INLINE int8_t te_clamp_int8(int32_t x, int full_range, int32_t low, int32_t high) {
    if (full_range) {
        return (int8_t)te_saturate8(x);
    }
    x = x < low ? low : x;
    return (int8_t)(x > high ? high : x);
}

#endif /* TE_SIMD_H */

