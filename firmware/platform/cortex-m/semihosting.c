#include "semihosting.h"

#include <stdint.h>

#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

/* SYS_EXIT_EXTENDED rather than SYS_EXIT: on 32-bit Arm, SYS_EXIT carries only a reason, so QEMU can
 * report success or failure but not the code itself; the extended call passes {reason, code}. */
void te_semihosting_exit(int code)
{
    volatile uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    register uint32_t operation __asm("r0") = SYS_EXIT_EXTENDED;
    register volatile uint32_t *argument __asm("r1") = block;
    for (;;) {
        __asm volatile("bkpt 0xAB" : : "r"(operation), "r"(argument) : "memory");
    }
}
