/* Test-only: wraps the model's run function (linked with -Wl,--wrap=tinyedge_model_run) so that the
 * real firmware, with the real model, misbehaves at its TE_FAULT_AT-th inference: it stops answering
 * (TE_FAULT_KIND 1) or makes a bad memory access that ends in the HardFault handler (TE_FAULT_KIND 3).
 * Every other inference runs the model unchanged. */
#include <stdint.h>

int __real_tinyedge_model_run(const int8_t *input, int8_t *output);
int __wrap_tinyedge_model_run(const int8_t *input, int8_t *output);

int __wrap_tinyedge_model_run(const int8_t *input, int8_t *output)
{
    static unsigned calls;
    if (++calls == (unsigned)TE_FAULT_AT) {
#if TE_FAULT_KIND == 1
        for (;;) {
            __asm volatile("");
        }
#else
        volatile int *nowhere = (volatile int *)(uintptr_t)0xf0000000u;
        *nowhere = 1;
#endif
    }
    return __real_tinyedge_model_run(input, output);
}
