/* Start-up code for the emulated Cortex-M boards: vector table, reset handler, interrupt dispatch and
 * the fault handler. The memory layout comes from the machine's linker script (firmware/platform/<machine>/),
 * the machine's figures from its machine.h. */
#include <stdint.h>
#include <stdlib.h>

#include "cortex_m.h"
#include "machine.h"

/* Linker-script symbols: their addresses are the values. __stack_top is declared as a function only so
 * that its address fits the table of handler addresses without an object-to-function pointer cast. */
extern void __stack_top(void);
extern uint32_t __data_load;
extern uint32_t __data_start;
extern uint32_t __data_end;
extern uint32_t __bss_start;
extern uint32_t __bss_end;

extern int main(void);
extern void __libc_init_array(void);

void Reset_Handler(void) __attribute__((naked, noreturn));
void Fault_Handler(void) __attribute__((naked, noreturn));
void te_platform_start(void) __attribute__((noreturn, used));
void te_platform_report_fault(const uint32_t *frame, uint32_t exc_return)
    __attribute__((noreturn, used));

/* The port provides SysTick_Handler when it uses SysTick; a stray SysTick is otherwise a crash. */
void SysTick_Handler(void) __attribute__((weak, noreturn, alias("Fault_Handler")));
static void dispatch_irq(void);

typedef void (*vector)(void);

/* The first word is the initial stack pointer, the rest are handler addresses. Every exception
 * without a handler of its own is a crash, reported by Fault_Handler. */
__attribute__((section(".vectors"), used)) const vector te_platform_vectors[16 + MACHINE_IRQ_COUNT] = {
    [0] = __stack_top,
    [1] = Reset_Handler,
    [2] = Fault_Handler,  /* NMI */
    [3] = Fault_Handler,  /* HardFault */
    [4] = Fault_Handler,  /* MemManage */
    [5] = Fault_Handler,  /* BusFault */
    [6] = Fault_Handler,  /* UsageFault */
    [7] = Fault_Handler,  /* SecureFault (Armv8-M) */
    [8] = Fault_Handler,  /* reserved */
    [9] = Fault_Handler,  /* reserved */
    [10] = Fault_Handler, /* reserved */
    [11] = Fault_Handler, /* SVCall */
    [12] = Fault_Handler, /* DebugMonitor */
    [13] = Fault_Handler, /* reserved */
    [14] = Fault_Handler, /* PendSV */
    [15] = SysTick_Handler,
    /* 16.. : external interrupts, filled below by the IRQ_DISPATCH repetitions */
#define IRQ_DISPATCH_8 dispatch_irq, dispatch_irq, dispatch_irq, dispatch_irq, \
                       dispatch_irq, dispatch_irq, dispatch_irq, dispatch_irq
    IRQ_DISPATCH_8, IRQ_DISPATCH_8, IRQ_DISPATCH_8, IRQ_DISPATCH_8,
#if MACHINE_IRQ_COUNT > 32
    IRQ_DISPATCH_8, IRQ_DISPATCH_8, IRQ_DISPATCH_8, IRQ_DISPATCH_8,
    IRQ_DISPATCH_8, IRQ_DISPATCH_8, IRQ_DISPATCH_8, IRQ_DISPATCH_8,
#endif
#if MACHINE_IRQ_COUNT > 96
#error "extend the vector table for this machine's interrupt count"
#endif
};
#undef IRQ_DISPATCH_8

/* Enables the FPU (and Helium, which shares its access bits) before any code that the compiler may
 * have given floating-point instructions: in assembly, since C could already use them. */
void Reset_Handler(void)
{
    __asm volatile(
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
        "movw r0, #0xED88\n\t"
        "movt r0, #0xE000\n\t" /* CPACR */
        "ldr r1, [r0]\n\t"
        "orr r1, r1, #(0xF << 20)\n\t" /* CP10 and CP11: full access */
        "str r1, [r0]\n\t"
        "dsb\n\t"
        "isb\n\t"
#endif
        "b te_platform_start\n\t");
}

void te_platform_start(void)
{
    SCB_VTOR = (uint32_t)te_platform_vectors;
    const uint32_t *source = &__data_load;
    for (uint32_t *target = &__data_start; target < &__data_end;) {
        *target++ = *source++;
    }
    for (uint32_t *target = &__bss_start; target < &__bss_end;) {
        *target++ = 0;
    }
    __libc_init_array(); /* C++ constructors and __attribute__((constructor)) functions */
    exit(main());        /* exit() runs atexit handlers, then _exit() ends the emulation */
}

/* Which stack the exception frame was pushed on: bit 2 of EXC_RETURN (in LR at entry) is set when the
 * interrupted code ran on the process stack. */
void Fault_Handler(void)
{
    __asm volatile(
        "mov r1, lr\n\t"
        "tst r1, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "b te_platform_report_fault\n\t");
}

static te_cortex_m_irq_handler irq_handlers[MACHINE_IRQ_COUNT];

void te_cortex_m_irq_attach(unsigned irq, te_cortex_m_irq_handler handler)
{
    if (irq >= MACHINE_IRQ_COUNT) {
        return;
    }
    irq_handlers[irq] = handler;
    if (handler) {
        cortex_m_irq_enable(irq);
    } else {
        cortex_m_irq_disable(irq);
    }
}

static void dispatch_irq(void)
{
    uint32_t exception;
    __asm volatile("mrs %0, ipsr" : "=r"(exception));
    unsigned irq = (exception & 0x1FFu) - 16u;
    if (irq < MACHINE_IRQ_COUNT && irq_handlers[irq]) {
        irq_handlers[irq]();
    } else if (irq < MACHINE_IRQ_COUNT) {
        cortex_m_irq_disable(irq); /* enabled but never attached: silence it rather than loop */
    }
}
