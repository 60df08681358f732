/* Test-only: wraps the model's run function (linked with -Wl,--wrap=tinyedge_model_run) so that the
 * real firmware, with the real model, misbehaves from its TE_FAULT_AT-th inference on:
 *   TE_FAULT_KIND 1: it stops answering;
 *   TE_FAULT_KIND 3: it makes a bad memory access that ends in the HardFault handler;
 *   TE_FAULT_KIND 4: `te-output` prints one output byte fewer than the model has (also linked with
 *                    -Wl,--wrap=te_format_hex, which during validation only `te-output` calls; the
 *                    digits model's 10 output bytes are one call);
 *   TE_FAULT_KIND 5: the clock stands still, so `te-ticks` reports 0 ticks for that inference (also
 *                    linked with -Wl,--wrap=te_port_ticks: the protocol's readings of the clock).
 * Every other inference runs the model unchanged and every other reply is the firmware's own. */
#include <stddef.h>
#include <stdint.h>

static unsigned inferences; /* started so far */

int __real_tinyedge_model_run(const int8_t *input, int8_t *output);
int __wrap_tinyedge_model_run(const int8_t *input, int8_t *output);

int __wrap_tinyedge_model_run(const int8_t *input, int8_t *output)
{
    if (++inferences == (unsigned)TE_FAULT_AT) {
#if TE_FAULT_KIND == 1
        for (;;) {
            __asm volatile("");
        }
#elif TE_FAULT_KIND == 3
        volatile int *nowhere = (volatile int *)(uintptr_t)0xf0000000u;
        *nowhere = 1;
#endif
    }
    return __real_tinyedge_model_run(input, output);
}

#if TE_FAULT_KIND == 4
size_t __real_te_format_hex(const uint8_t *bytes, size_t length, char *out);
size_t __wrap_te_format_hex(const uint8_t *bytes, size_t length, char *out);

size_t __wrap_te_format_hex(const uint8_t *bytes, size_t length, char *out)
{
    if (inferences >= (unsigned)TE_FAULT_AT && length > 0u) {
        --length; /* the output's last byte is left out */
    }
    return __real_te_format_hex(bytes, length, out);
}
#endif

#if TE_FAULT_KIND == 5
uint64_t __real_te_port_ticks(void);
uint64_t __wrap_te_port_ticks(void);

/* The protocol reads the clock before and after each timed inference. Once inference TE_FAULT_AT - 1
 * has run, the reading after it is kept for ever: that inference still measures its real duration,
 * the next one (the TE_FAULT_AT-th) starts and ends at the same reading. */
uint64_t __wrap_te_port_ticks(void)
{
    static int stopped;
    static uint64_t reading;
    if (!stopped) {
        reading = __real_te_port_ticks();
        stopped = inferences + 1u >= (unsigned)TE_FAULT_AT;
    }
    return reading;
}
#endif
