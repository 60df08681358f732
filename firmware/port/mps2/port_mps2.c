/* Bare-metal port for QEMU's MPS2 / MPS3 machines (the console is a CMSDK UART on both; the machine's
 * addresses come from firmware/platform/<machine>/machine.h).
 *
 * Serial input is interrupt driven into a ring buffer (ARCHITECTURE.md §4: ~75 kB/s against ~45 kB/s
 * polled). When the ring is full the RX interrupt is switched off and the byte stays in the UART, which
 * makes QEMU hold further bytes back: input is never dropped.
 * Time is SysTick extended to 64 bits by counting its wraps (converted to instructions on machines whose
 * SysTick period is not a whole number of instructions, see machine.h).
 *
 * Deterministic timing: under -icount every instruction takes the same virtual time, but while the
 * firmware polls for input it runs a number of loop iterations that depends on when the host's bytes
 * arrive, which shifts where the 40-instruction tick boundaries fall. A measurement of the same code
 * would then read N or N+1 ticks from run to run. So whenever te_port_read() hands out data, the port
 * restarts SysTick's period at that instruction (carrying the count over: the clock only loses the part
 * of one tick spent waiting). Code that runs a fixed path after the last input byte it read is timed
 * identically on every run. */
#include <stdint.h>

#include "cmsdk_uart.h"
#include "cortex_m.h"
#include "machine.h"
#include "port.h"
#include "semihosting.h"

#define RX_RING_SIZE 1024u /* a power of two, so indices wrap with a mask */

static cmsdk_uart *const console = (cmsdk_uart *)MACHINE_CONSOLE_UART_BASE;

/* Single producer (the RX interrupt) and single consumer (te_port_read): each index is written by one side
 * only, and 32-bit accesses are atomic, so no lock is needed. */
static volatile uint8_t rx_ring[RX_RING_SIZE];
static volatile uint32_t rx_head; /* written by the interrupt */
static volatile uint32_t rx_tail; /* written by te_port_read */

static volatile uint64_t systick_wrapped_ticks;

static void console_rx_interrupt(void)
{
    console->intstatus = CMSDK_UART_INT_RX; /* clear first, so a byte arriving meanwhile re-raises it */
    while (console->state & CMSDK_UART_STATE_RX_FULL) {
        uint32_t head = rx_head;
        if (head - rx_tail == RX_RING_SIZE) {
            console->ctrl &= ~CMSDK_UART_CTRL_RX_INTERRUPT; /* te_port_read turns it back on */
            return;
        }
        rx_ring[head & (RX_RING_SIZE - 1u)] = (uint8_t)console->data;
        rx_head = head + 1u;
    }
}

void SysTick_Handler(void) { systick_wrapped_ticks += (uint64_t)SYST_MAX_RELOAD + 1u; }

void te_port_init(uint32_t baud)
{
    cmsdk_uart_set_baud(console, MACHINE_SYSCLK_HZ, baud);
    console->intstatus = 0xFu;
    console->ctrl = CMSDK_UART_CTRL_TX_ENABLE | CMSDK_UART_CTRL_RX_ENABLE | CMSDK_UART_CTRL_RX_INTERRUPT;
    te_cortex_m_irq_attach(MACHINE_CONSOLE_UART_RX_IRQ, console_rx_interrupt);

    SYST_RVR = SYST_MAX_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

/* SysTick counts since te_port_init; called with interrupts masked. */
static uint64_t systick_counts(void)
{
    /* With interrupts masked, a wrap that happened since the last SysTick interrupt shows as a pending
     * SysTick; count it here (and read the counter again, after the wrap) rather than lose 2^24 ticks. */
    uint64_t wrapped = systick_wrapped_ticks;
    uint32_t current = SYST_CVR;
    if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
        wrapped += (uint64_t)SYST_MAX_RELOAD + 1u;
        current = SYST_CVR;
    }
    /* SysTick counts down and raises its interrupt when it reaches 0, one tick before it reloads: so
     * 0 is the first tick of a period (the wrap is already counted) and the reload value the second. */
    return wrapped + ((0u - current) & SYST_MAX_RELOAD);
}

/* Carries the count so far into the wrap total and restarts SysTick's period here (see the top). */
static void restart_tick_period(void)
{
    uint32_t mask = cortex_m_interrupts_off();
    uint64_t counts = systick_counts();
    /* Round up to a whole number of scaling steps, so that the conversion to ticks does not depend on
     * where the count stood either. */
    counts = (counts + MACHINE_SYSTICK_TO_TICKS_DEN - 1u) / MACHINE_SYSTICK_TO_TICKS_DEN *
             MACHINE_SYSTICK_TO_TICKS_DEN;
    SYST_CVR = 0;                       /* any write clears the counter; QEMU restarts the period now */
    SCB_ICSR = SCB_ICSR_PENDSTCLR;      /* a wrap still pending is already in `counts` */
    systick_wrapped_ticks = counts;
    cortex_m_interrupts_restore(mask);
}

uint64_t te_port_ticks(void)
{
    uint32_t mask = cortex_m_interrupts_off();
    uint64_t counts = systick_counts();
    cortex_m_interrupts_restore(mask);
#if MACHINE_SYSTICK_TO_TICKS_NUM != 1u || MACHINE_SYSTICK_TO_TICKS_DEN != 1u
    return counts * MACHINE_SYSTICK_TO_TICKS_NUM / MACHINE_SYSTICK_TO_TICKS_DEN;
#else
    return counts;
#endif
}

size_t te_port_read(uint8_t *buffer, size_t max)
{
    size_t count = 0;
    uint32_t tail = rx_tail;
    while (count < max && tail != rx_head) {
        buffer[count++] = rx_ring[tail & (RX_RING_SIZE - 1u)];
        tail++;
    }
    rx_tail = tail;
    if (count == 0) {
        return 0;
    }
    if (!(console->ctrl & CMSDK_UART_CTRL_RX_INTERRUPT)) {
        /* Room again: let the interrupt take the byte that waited in the UART. */
        uint32_t mask = cortex_m_interrupts_off();
        console->ctrl |= CMSDK_UART_CTRL_RX_INTERRUPT;
        cortex_m_interrupts_restore(mask);
    }
    restart_tick_period();
    return count;
}

void te_port_write(const uint8_t *data, size_t length) { cmsdk_uart_write(console, data, length); }

uint32_t te_port_ticks_per_second(void) { return MACHINE_TICKS_PER_SECOND; }

const char *te_port_tick_unit(void) { return "instructions"; }

uint32_t te_port_instructions_per_tick(void) { return MACHINE_INSTRUCTIONS_PER_TICK; }

void te_port_exit(int code) { te_semihosting_exit(code); }
