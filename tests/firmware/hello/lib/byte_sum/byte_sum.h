/* A project library (lib/), to show the platform builds lib/ as well as src/. */
#ifndef BYTE_SUM_H
#define BYTE_SUM_H

#include <stddef.h>
#include <stdint.h>

uint32_t byte_sum(uint32_t sum, const uint8_t *bytes, size_t count);

#endif
