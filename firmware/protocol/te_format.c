#include "te_format.h"

#include <string.h>

static const char HEX_DIGITS[] = "0123456789abcdef";

size_t te_format_u64(uint64_t value, char *out)
{
    char reversed[20];
    size_t count = 0;
    size_t i;
    do {
        reversed[count++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    for (i = 0; i < count; ++i) {
        out[i] = reversed[count - 1u - i];
    }
    return count;
}

size_t te_format_i64(int64_t value, char *out)
{
    if (value < 0) {
        out[0] = '-';
        /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
        return 1u + te_format_u64((uint64_t)0 - (uint64_t)value, out + 1);
    }
    return te_format_u64((uint64_t)value, out);
}

/* Divides the little-endian 32-bit-limb number in place by `divisor`; returns the remainder. */
static uint32_t bignum_divide(uint32_t *limbs, size_t count, uint32_t divisor)
{
    uint64_t remainder = 0;
    size_t i = count;
    while (i-- > 0u) {
        uint64_t current = (remainder << 32) | limbs[i];
        limbs[i] = (uint32_t)(current / divisor);
        remainder = current % divisor;
    }
    return (uint32_t)remainder;
}

/* Decimal digits of mantissa * 2^shift (shift <= 104, so below 2^128: four limbs and one spare). */
static size_t format_shifted_integer(uint32_t mantissa, unsigned shift, char *out)
{
    uint32_t limbs[5] = {0, 0, 0, 0, 0};
    char reversed[TE_FORMAT_MAX];
    size_t count = 0;
    size_t i;
    unsigned word = shift / 32u;
    unsigned bit = shift % 32u;
    uint64_t wide = (uint64_t)mantissa << bit;

    limbs[word] = (uint32_t)wide;
    limbs[word + 1u] = (uint32_t)(wide >> 32);
    for (;;) {
        int nonzero = 0;
        reversed[count++] = (char)('0' + (int)bignum_divide(limbs, 5, 10u));
        for (i = 0; i < 5u; ++i) {
            nonzero |= limbs[i] != 0u;
        }
        if (!nonzero) {
            break;
        }
    }
    for (i = 0; i < count; ++i) {
        out[i] = reversed[count - 1u - i];
    }
    return count;
}

size_t te_format_fixed3(float value, char *out)
{
    uint32_t bits;
    uint32_t exponent_field;
    uint32_t mantissa;
    int exponent;
    size_t length = 0;

    memcpy(&bits, &value, sizeof bits);
    exponent_field = (bits >> 23) & 0xffu;
    mantissa = bits & 0x7fffffu;

    if (exponent_field == 0xffu) {
        /* glibc prints the sign of a NaN too. */
        const char *text = mantissa != 0u ? "nan" : "inf";
        if ((bits >> 31) != 0u) {
            out[length++] = '-';
        }
        memcpy(out + length, text, 3);
        return length + 3u;
    }
    if ((bits >> 31) != 0u) {
        out[length++] = '-';
    }
    if (exponent_field == 0u) {
        exponent = -149; /* subnormal: no implicit leading one */
    } else {
        mantissa |= 0x800000u;
        exponent = (int)exponent_field - 150;
    }

    if (exponent >= 0) {
        /* An integer: its digits, then ".000". */
        length += format_shifted_integer(mantissa, (unsigned)exponent, out + length);
        memcpy(out + length, ".000", 4);
        return length + 4u;
    }

    {
        /* |value| * 1000 = mantissa * 1000 / 2^shift, rounded to an integer, ties to even. The
         * numerator is below 2^34, so from shift 35 on the quotient is below one half. */
        unsigned shift = (unsigned)-exponent;
        uint64_t numerator = (uint64_t)mantissa * 1000u;
        uint64_t thousandths = 0;
        if (shift < 40u) {
            uint64_t remainder = numerator & (((uint64_t)1 << shift) - 1u);
            uint64_t half = (uint64_t)1 << (shift - 1u);
            thousandths = numerator >> shift;
            if (remainder > half || (remainder == half && (thousandths & 1u) != 0u)) {
                ++thousandths;
            }
        }
        length += te_format_u64(thousandths / 1000u, out + length);
        out[length++] = '.';
        out[length++] = (char)('0' + (int)(thousandths / 100u % 10u));
        out[length++] = (char)('0' + (int)(thousandths / 10u % 10u));
        out[length++] = (char)('0' + (int)(thousandths % 10u));
        return length;
    }
}

size_t te_format_hex(const uint8_t *bytes, size_t length, char *out)
{
    size_t i;
    for (i = 0; i < length; ++i) {
        out[2u * i] = HEX_DIGITS[bytes[i] >> 4];
        out[2u * i + 1u] = HEX_DIGITS[bytes[i] & 0x0fu];
    }
    return 2u * length;
}
