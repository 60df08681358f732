/* Number formatting for the protocol's lines, without printf: many embedded C libraries (newlib-nano
 * without -u _printf_float, for one) cannot print floats, and the MLPerf Tiny runner needs the
 * reference's "%0.3f" text exactly. Each function writes into `out` and returns the length (no NUL). */
#ifndef TINYEDGE_TE_FORMAT_H
#define TINYEDGE_TE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Enough for any value below (a float printed with "%0.3f" needs at most 1 + 39 + 4 characters). */
#define TE_FORMAT_MAX 48

size_t te_format_u64(uint64_t value, char *out);
size_t te_format_i64(int64_t value, char *out);

/* The same text as printf("%0.3f", (double)value): the exact binary value correctly rounded to three
 * decimals, ties to even, "-" for every negative value (also "-0.000"), "inf"/"nan" as glibc. */
size_t te_format_fixed3(float value, char *out);

/* Two lower-case hex digits per byte, no separators. Writes 2 * length characters. */
size_t te_format_hex(const uint8_t *bytes, size_t length, char *out);

#ifdef __cplusplus
}
#endif

#endif /* TINYEDGE_TE_FORMAT_H */
