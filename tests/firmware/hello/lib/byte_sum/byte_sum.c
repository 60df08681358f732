#include "byte_sum.h"

uint32_t byte_sum(uint32_t sum, const uint8_t *bytes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        sum += bytes[i];
    }
    return sum;
}
