/* QEMU's MPS3 machine with the AN547 FPGA image: a Cortex-M55 in an SSE-300 (QEMU hw/arm/mps2-tz.c,
 * an547_ppcs and mps3tz_an547_class_init). The core starts in Secure state, so the Secure aliases of the
 * peripherals are used. */
#ifndef TINYEDGE_MACHINE_H
#define TINYEDGE_MACHINE_H

#define MACHINE_NAME "mps3-an547"
#define MACHINE_CONSOLE_UART_BASE 0x59303000u /* UART0 (0x49303000) through its Secure alias */
#define MACHINE_CONSOLE_UART_RX_IRQ 33u       /* UART0 RX; 34 is TX, 43 combined (seen pending in QEMU 7.2) */
#define MACHINE_IRQ_COUNT 96u                 /* covers the UART0 interrupts; QEMU has 32 + 96 */
#define MACHINE_SYSCLK_HZ 32000000u           /* sysclk_frq: the CPU clock SysTick counts */
/* Under -icount shift=0 one instruction takes one virtual nanosecond, so a 32 MHz SysTick advances every
 * 31.25 instructions: not a whole number. The port therefore converts SysTick counts to instructions
 * (x 125 / 4) and reports ticks of one instruction. */
#define MACHINE_INSTRUCTIONS_PER_TICK 1u
#define MACHINE_TICKS_PER_SECOND 1000000000u
#define MACHINE_SYSTICK_TO_TICKS_NUM 125u
#define MACHINE_SYSTICK_TO_TICKS_DEN 4u

#endif /* TINYEDGE_MACHINE_H */
