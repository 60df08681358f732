/* FULLY_CONNECTED fast path: one input row against four filter rows at a time. Each input word is
 * widened once by SXTB16 into the pairs (0, 2) and (1, 3) and shared by the four rows, whose weights
 * the generator stored already widened in that order (two LDRD per row and word): 17 instructions
 * per 16 multiply-adds. The packed variant (runtime.optimize = "size") keeps the weights int8, half the
 * flash, and widens each row's word the same way in the loop: 8 SXTB16 more per 16 multiply-adds.
 * The requantization is te_requant (te_simd.h). */
#include "te_simd.h"
#include "tinyedge_native.h"

/* acc[r] += row r . input over `chunks` 4-byte chunks; `w` holds, per chunk, rows 0..3's pairs
 * (0, 2) and (1, 3) in turn. */
TE_ALWAYS_INLINE void te_fc_dot4(const int8_t *x, const te_word *w, int32_t chunks, int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    while (chunks-- > 0) {
        const uint32_t word = te_read32(x);
        const uint32_t even = te_sxtb16_even(word), odd = te_sxtb16_odd(word);
#if TE_HAVE_DSP
        uint32_t w0, w1, w2, w3;
        __asm__("ldrd %[w0], %[w1], [%[w]], #8\n\t"
                "ldrd %[w2], %[w3], [%[w]], #8\n\t"
                "smlad %[a0], %[even], %[w0], %[a0]\n\t"
                "smlad %[a0], %[odd], %[w1], %[a0]\n\t"
                "smlad %[a1], %[even], %[w2], %[a1]\n\t"
                "smlad %[a1], %[odd], %[w3], %[a1]\n\t"
                "ldrd %[w0], %[w1], [%[w]], #8\n\t"
                "ldrd %[w2], %[w3], [%[w]], #8\n\t"
                "smlad %[a2], %[even], %[w0], %[a2]\n\t"
                "smlad %[a2], %[odd], %[w1], %[a2]\n\t"
                "smlad %[a3], %[even], %[w2], %[a3]\n\t"
                "smlad %[a3], %[odd], %[w3], %[a3]"
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w),
                  [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)
                : [even] "r"(even), [odd] "r"(odd)
                : "memory");
#else
        a0 = te_smlad(odd, w[1], te_smlad(even, w[0], a0));
        a1 = te_smlad(odd, w[3], te_smlad(even, w[2], a1));
        a2 = te_smlad(odd, w[5], te_smlad(even, w[4], a2));
        a3 = te_smlad(odd, w[7], te_smlad(even, w[6], a3));
        w += 8;
#endif
        x += 4;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* As te_fc_dot4 with `w` holding, per chunk, rows 0..3's four int8 weights as they are. */
TE_ALWAYS_INLINE void te_fc_dot4_packed(const int8_t *x, const te_word *w, int32_t chunks, int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    while (chunks-- > 0) {
        const uint32_t word = te_read32(x);
        const uint32_t even = te_sxtb16_even(word), odd = te_sxtb16_odd(word);
        const uint32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        a0 = te_smlad(odd, te_sxtb16_odd(w0), te_smlad(even, te_sxtb16_even(w0), a0));
        a1 = te_smlad(odd, te_sxtb16_odd(w1), te_smlad(even, te_sxtb16_even(w1), a1));
        a2 = te_smlad(odd, te_sxtb16_odd(w2), te_smlad(even, te_sxtb16_even(w2), a2));
        a3 = te_smlad(odd, te_sxtb16_odd(w3), te_smlad(even, te_sxtb16_even(w3), a3));
        w += 4;
        x += 4;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

TE_ALWAYS_INLINE int8_t te_fc_value(const te_fast_fully_connected_params *p, int32_t acc, const te_requant *q) {
    return te_clamp_int8(te_requant_apply(acc, q), 0, p->activation_min, p->activation_max);
}

/* One row of a word of four int8 weights against the input word: the packed layout's tail rows. */
TE_ALWAYS_INLINE int32_t te_fc_packed_chunk(uint32_t word, uint32_t weight, int32_t acc) {
    acc = te_smlad(te_sxtb16_even(word), te_sxtb16_even(weight), acc);
    return te_smlad(te_sxtb16_odd(word), te_sxtb16_odd(weight), acc);
}

/* Both layouts: `packed` (a constant at each call) picks te_fc_dot4_packed and its word counts. */
TE_ALWAYS_INLINE void te_fc_body(const te_fast_fully_connected_params *p, const int8_t *input,
                                 const uint32_t *filter, int8_t *output, int packed) {
    const int32_t chunks = p->accum_depth / 4;
    const int32_t step = p->requant_step;
    int32_t batch;
    for (batch = 0; batch < p->batches; ++batch) {
        const int8_t *row = input + (size_t)batch * (size_t)p->accum_depth;
        int8_t *out = output + (size_t)batch * (size_t)p->output_depth;
        const te_word *weights = (const te_word *)filter;
        int32_t channel = 0;
        for (; channel + 4 <= p->output_depth; channel += 4) {
            const te_requant *q = p->requant + channel * step;
            int32_t acc[4];
            int8_t v0, v1, v2, v3;
            acc[0] = p->bias[channel];
            acc[1] = p->bias[channel + 1];
            acc[2] = p->bias[channel + 2];
            acc[3] = p->bias[channel + 3];
            if (packed) {
                te_fc_dot4_packed(row, weights, chunks, acc);
                weights += 4 * chunks;
            } else {
                te_fc_dot4(row, weights, chunks, acc);
                weights += 8 * chunks;
            }
            v0 = te_fc_value(p, acc[0], q);
            v1 = te_fc_value(p, acc[1], q + step);
            v2 = te_fc_value(p, acc[2], q + 2 * step);
            v3 = te_fc_value(p, acc[3], q + 3 * step);
            out[channel] = v0;
            out[channel + 1] = v1;
            out[channel + 2] = v2;
            out[channel + 3] = v3;
        }
        for (; channel < p->output_depth; ++channel) {
            int32_t acc = p->bias[channel];
            int32_t i;
            for (i = 0; i < chunks; ++i) {
                const uint32_t word = te_read32(row + 4 * i);
                if (packed) {
                    acc = te_fc_packed_chunk(word, weights[i], acc);
                } else {
                    acc = te_smlad(te_sxtb16_even(word), weights[2 * i], acc);
                    acc = te_smlad(te_sxtb16_odd(word), weights[2 * i + 1], acc);
                }
            }
            weights += packed ? chunks : 2 * chunks;
            out[channel] = te_fc_value(p, acc, p->requant + channel * step);
        }
    }
}

void te_fully_connected_fast_s8(const te_fast_fully_connected_params *p, const int8_t *input,
                                const uint32_t *filter, int8_t *output) {
    te_fc_body(p, input, filter, output, 0);
}

void te_fully_connected_packed_s8(const te_fast_fully_connected_params *p, const int8_t *input,
                                  const uint32_t *filter, int8_t *output) {
    te_fc_body(p, input, filter, output, 1);
}
