/* Compares te_format_fixed3 with the C library's printf("%0.3f") over dequantized int8 values for many
 * scales and zero points, plus edge values; prints each mismatch and the number checked. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "te_format.h"

static unsigned long checked;
static unsigned long mismatches;

static void check(float value)
{
    char expected[512];
    char actual[TE_FORMAT_MAX + 1];
    size_t length = te_format_fixed3(value, actual);
    actual[length] = '\0';
    snprintf(expected, sizeof expected, "%0.3f", (double)value);
    ++checked;
    if (strcmp(expected, actual) != 0) {
        if (++mismatches <= 20u) {
            printf("mismatch for %a: printf %s, te_format_fixed3 %s\n", (double)value, expected, actual);
        }
    }
}

int main(void)
{
    static const float edges[] = {0.0f, 0.0625f, 0.0005f, 0.0015f, 0.0025f, 1e-30f, 1.0f, 999.9995f,
                                  123456.7890f, 16777216.0f, 3.0e38f, FLT_MAX, FLT_MIN, 1e-45f};
    unsigned s;
    int zero_point;
    int q;
    size_t i;
    char buffer[TE_FORMAT_MAX + 1];

    for (i = 0; i < sizeof edges / sizeof edges[0]; ++i) {
        check(edges[i]);
        check(-edges[i]);
    }
    check(INFINITY);
    check(-INFINITY);
    check(NAN);
    /* Scales from 2^-12 to about 2^4, including exact powers of two (where ties occur). */
    for (s = 0; s < 400u; ++s) {
        float scale = ldexpf(1.0f + (float)(s % 25u) / 25.0f, (int)(s / 25u) - 12);
        for (zero_point = -128; zero_point <= 127; zero_point += 17) {
            for (q = -128; q <= 127; ++q) {
                check((float)(q - zero_point) * scale);
            }
        }
    }
    /* Every float whose |value| * 1000 lies on a tie or next to one in [0, 1). */
    for (q = 0; q < 1 << 16; ++q) {
        check((float)q / 65536.0f);
    }
    buffer[te_format_u64(18446744073709551615u, buffer)] = '\0';
    if (strcmp(buffer, "18446744073709551615") != 0) {
        ++mismatches;
        printf("u64 max printed as %s\n", buffer);
    }
    buffer[te_format_i64(-9223372036854775807 - 1, buffer)] = '\0';
    if (strcmp(buffer, "-9223372036854775808") != 0) {
        ++mismatches;
        printf("i64 min printed as %s\n", buffer);
    }
    printf("checked %lu values, %lu mismatches\n", checked, mismatches);
    return mismatches == 0u ? 0 : 1;
}
