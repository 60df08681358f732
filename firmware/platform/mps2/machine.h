/* QEMU's MPS2 machines with the AN385 (Cortex-M3), AN386 (Cortex-M4F) and AN500 (Cortex-M7) FPGA images:
 * they share the memory map and the peripherals the firmware uses (QEMU 7.2 hw/arm/mps2.c). */
#ifndef TINYEDGE_MACHINE_H
#define TINYEDGE_MACHINE_H

#define MACHINE_NAME "mps2"
#define MACHINE_CONSOLE_UART_BASE 0x40004000u /* UART0, connected to QEMU's first -serial */
#define MACHINE_CONSOLE_UART_RX_IRQ 0u        /* UART0 RX; TX is 1 */
#define MACHINE_IRQ_COUNT 32u                 /* num-irq of the armv7m container */
#define MACHINE_SYSCLK_HZ 25000000u           /* SYSCLK_FRQ: UART clock and SysTick's CPU clock */
/* Under -icount shift=0 the guest runs one instruction per virtual nanosecond, so a 25 MHz SysTick
 * advances once every 1e9 / 25e6 = 40 instructions. */
#define MACHINE_INSTRUCTIONS_PER_TICK 40u
#define MACHINE_TICKS_PER_SECOND MACHINE_SYSCLK_HZ
#define MACHINE_SYSTICK_TO_TICKS_NUM 1u /* port ticks are SysTick counts */
#define MACHINE_SYSTICK_TO_TICKS_DEN 1u

#endif /* TINYEDGE_MACHINE_H */
