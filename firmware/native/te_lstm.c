/* The recurrent ops with variable state: UNIDIRECTIONAL_SEQUENCE_LSTM and SVDF.
 *
 * UNIDIRECTIONAL_SEQUENCE_LSTM, int8 activations and weights, int16 cell state: TFLM's integer LSTM
 * (lstm_eval.h). Each gate is two FULLY_CONNECTEDs to int16 at scale 2^-12 (the input one with the
 * gate's bias), their saturating sum, then a sigmoid or tanh to int16 at 2^-15; the cell and hidden
 * updates are int16 multiplies requantized to the cell or hidden scale.
 *
 * The input-side sums fold the bias and the input offset (bias + input_offset * sum(w)), the
 * recurrent ones the hidden offset (-hidden_zero_point * sum(rw)), computed by the generator: the same
 * integers TFLM accumulates. The hidden and cell states are the op's variable tensors; each invoke
 * starts them from TFLM's reset values (the hidden zero point, zeros), as tinyedge's host reference
 * resets them before each sample (each sample is an independent sequence). */
#include "tinyedge_native.h"
#include "te_simd.h"

/* acc + sum a[k] * b[k]: two products per SMLAD on cores with the DSP extension (the same integers). */
static int32_t te_dot_s8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc) {
    int32_t k = 0;
#if TE_HAVE_DSP
    for (; k + 4 <= n; k += 4) {
        const uint32_t wa = te_read32(a + k);
        const uint32_t wb = te_read32(b + k);
        acc = te_smlad(te_sxtb16_even(wa), te_sxtb16_even(wb), acc);
        acc = te_smlad(te_sxtb16_odd(wa), te_sxtb16_odd(wb), acc);
    }
#endif
    for (; k < n; ++k) {
        acc += a[k] * b[k];
    }
    return acc;
}

/* Fixed-point sigmoid / tanh of an int16, interpolated in the 256-entry table of sigmoid(i / 24) in
 * 0.16 (reference_integer_ops::Logistic / Tanh, int16 forms). */
static int16_t te_sigmoid16(const te_lstm_params *p, int32_t x) {
    const int32_t value = x * 3;
    const uint32_t magnitude = (uint32_t)(value < 0 ? -value : value);
    const uint32_t index = magnitude >> 9;
    uint32_t result;
    if (index >= 255) {
        result = (uint32_t)0x7FFF << 10;
    } else {
        const uint32_t low = p->sigmoid_table[index];
        const uint32_t high = p->sigmoid_table[index + 1];
        result = (low << 9) + (magnitude & 0x1FF) * (high - low);
    }
    result = value >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1;
    return (int16_t)(result >> 10);
}

static int16_t te_tanh16(const te_lstm_params *p, int32_t x, int32_t multiplier, int32_t left_shift) {
    const int32_t round = left_shift > 0 ? (1 << (left_shift - 1)) : 0;
    const int32_t value = (x * multiplier + round) >> left_shift;
    const uint32_t magnitude = (uint32_t)(value < 0 ? -value : value);
    const uint32_t index = magnitude >> 8;
    int32_t result;
    if (index >= 255) {
        result = 0xFFFF << 8;
    } else {
        const uint32_t low = p->sigmoid_table[index];
        const uint32_t high = p->sigmoid_table[index + 1];
        result = (int32_t)((low << 8) + (magnitude & 0xFF) * (high - low));
    }
    result = value >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(result >> 8);
}

static int16_t te_saturate16(int32_t x) {
    return (int16_t)te_clamp(x, INT16_MIN, INT16_MAX);
}

/* One gate for `rows` rows: input FC + recurrent FC (their offsets folded in gate_offsets), each
 * requantized to int16 and saturated, their saturated sum, then the non-linearity. */
static void te_lstm_gate(const te_lstm_params *p, int gate, const int8_t *const *weights, const int8_t *input,
                         const int8_t *hidden, int32_t rows, int sigmoid, int16_t *out) {
    const int8_t *input_weights = weights[gate];
    const int8_t *recurrent_weights = weights[4 + gate];
    const int32_t *input_offsets = p->gate_offsets + gate * p->state_size;
    const int32_t *recurrent_offsets = p->gate_offsets + (4 + gate) * p->state_size;
    int32_t r, u;
    for (r = 0; r < rows; ++r) {
        const int8_t *x = input + (size_t)r * (size_t)p->input_size;
        const int8_t *h = hidden + (size_t)r * (size_t)p->state_size;
        for (u = 0; u < p->state_size; ++u) {
            const int8_t *w = input_weights + (size_t)u * (size_t)p->input_size;
            const int8_t *rw = recurrent_weights + (size_t)u * (size_t)p->state_size;
            int32_t from_input = te_dot_s8(x, w, p->input_size, input_offsets[u]);
            int32_t from_state = te_dot_s8(h, rw, p->state_size, recurrent_offsets[u]);
            int32_t sum;
            from_input = te_saturate16(te_requantize(from_input, p->input_multipliers[gate], p->input_shifts[gate]));
            from_state = te_saturate16(te_requantize(from_state, p->recurrent_multipliers[gate],
                                                     p->recurrent_shifts[gate]));
            sum = te_saturate16(from_input + from_state);
            out[(size_t)r * (size_t)p->state_size + (size_t)u] =
                sigmoid ? te_sigmoid16(p, sum) : te_tanh16(p, sum, 3, 0);
        }
    }
}

/* weights: input_to_{input, forget, cell, output}, then recurrent_to_{input, forget, cell, output}.
 * scratch: 4 * rows * state_size int16. */
void te_lstm_s8(const te_lstm_params *p, const int8_t *const *weights, const int8_t *input,
                int8_t *hidden_state, int16_t *cell_state, int8_t *scratch, int8_t *output) {
    const int32_t rows = p->time_major ? p->batches : 1;
    const int32_t sequences = p->time_major ? 1 : p->batches;
    const size_t gate_size = (size_t)rows * (size_t)p->state_size;
    int16_t *forget_gate = (int16_t *)(void *)scratch;
    int16_t *input_gate = forget_gate + gate_size;
    int16_t *cell_gate = input_gate + gate_size;
    int16_t *output_gate = cell_gate + gate_size;
    int32_t s, t;
    size_t i;
    for (i = 0; i < (size_t)p->batches * (size_t)p->state_size; ++i) {
        hidden_state[i] = (int8_t)p->hidden_zero_point;
        cell_state[i] = 0;
    }
    for (s = 0; s < sequences; ++s) {
        int8_t *hidden = hidden_state + (size_t)s * (size_t)p->state_size;
        int16_t *cell = cell_state + (size_t)s * (size_t)p->state_size;
        for (t = 0; t < p->time_steps; ++t) {
            const size_t step = (size_t)s * (size_t)p->time_steps + (size_t)t;
            const int8_t *x = input + step * (size_t)rows * (size_t)p->input_size;
            int8_t *y = output + step * gate_size;
            te_lstm_gate(p, 1, weights, x, hidden, rows, 1, forget_gate);
            te_lstm_gate(p, 0, weights, x, hidden, rows, 1, input_gate);
            te_lstm_gate(p, 2, weights, x, hidden, rows, p->cell_gate_sigmoid, cell_gate);
            for (i = 0; i < gate_size; ++i) {
                const int32_t kept = te_saturate16(te_requantize((int32_t)forget_gate[i] * cell[i],
                                                                 p->forget_multiplier, p->forget_shift));
                const int32_t added = te_saturate16(te_requantize((int32_t)input_gate[i] * cell_gate[i],
                                                                  p->input_gate_multiplier, p->input_gate_shift));
                int32_t updated = te_saturate16(kept + added);
                if (p->cell_clip_enabled) {
                    updated = te_clamp(updated, -p->cell_clip, p->cell_clip);
                }
                cell[i] = (int16_t)updated;
            }
            te_lstm_gate(p, 3, weights, x, hidden, rows, 1, output_gate);
            for (i = 0; i < gate_size; ++i) {
                const int32_t activated = te_tanh16(p, cell[i], p->cell_tanh_multiplier, p->cell_tanh_shift);
                const int32_t value = te_clamp(te_requantize(activated * output_gate[i], p->hidden_multiplier,
                                                             p->hidden_shift) + p->hidden_zero_point,
                                               INT8_MIN, INT8_MAX);
                y[i] = (int8_t)value;
                hidden[i] = (int8_t)value;
            }
        }
    }
}

/* SVDF with int8 input and feature weights, int16 time weights and state (TFLM's
 * EvalIntegerSvdfReference). The state (a variable tensor with arena bytes of its own) holds each
 * filter's last memory_size feature values; each invoke starts it from zeros (TFLM's reset value, as
 * the host reference resets it before each sample), shifts it by one and appends the new ones. */
void te_svdf_s8(const te_svdf_params *p, const int8_t *input, const int8_t *weights_feature,
                const int16_t *weights_time, const int32_t *bias, int16_t *state, int8_t *output) {
    const int32_t filters = p->num_units * p->rank;
    const size_t state_size = (size_t)p->batches * (size_t)filters * (size_t)p->memory_size;
    int32_t b, f, u, j, k;
    size_t i;
    for (i = 0; i < state_size; ++i) {
        state[i] = 0;
    }
    for (i = 0; i + 1 < state_size; ++i) {
        state[i] = state[i + 1];
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * (size_t)p->input_size;
        int16_t *memory = state + (size_t)b * (size_t)filters * (size_t)p->memory_size;
        for (f = 0; f < filters; ++f) {
            const int8_t *w = weights_feature + (size_t)f * (size_t)p->input_size;
            int32_t acc = 0;
            for (k = 0; k < p->input_size; ++k) {
                acc += w[k] * ((int32_t)x[k] - p->input_zero_point);
            }
            acc = te_clamp(te_requantize(acc, p->feature_multiplier, p->feature_shift), INT16_MIN, INT16_MAX);
            memory[(size_t)f * (size_t)p->memory_size + (size_t)p->memory_size - 1] =
                (int16_t)(p->state_zero_point + acc);
        }
        for (u = 0; u < p->num_units; ++u) {
            int32_t acc = bias != NULL ? bias[u] : 0;
            for (j = 0; j < p->rank; ++j) {
                const int32_t filter = u * p->rank + j;
                const int16_t *row = memory + (size_t)filter * (size_t)p->memory_size;
                const int16_t *w = weights_time + (size_t)filter * (size_t)p->memory_size;
                for (k = 0; k < p->memory_size; ++k) {
                    acc += w[k] * ((int32_t)row[k] - p->state_zero_point);
                }
            }
            acc = te_requantize(acc, p->output_multiplier, p->output_shift) + p->output_zero_point;
            output[(size_t)b * (size_t)p->num_units + (size_t)u] = (int8_t)te_clamp(acc, INT8_MIN, INT8_MAX);
        }
    }
}
