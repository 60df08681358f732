/* The few Cortex-M system registers the tinyedge start-up code and ports touch (Armv7-M and Armv8-M
 * share these addresses). Kept minimal on purpose: no vendor CMSIS dependency. */
#ifndef TINYEDGE_CORTEX_M_H
#define TINYEDGE_CORTEX_M_H

#include <stdint.h>

#define CORTEX_M_REG(address) (*(volatile uint32_t *)(address))

/* System control block */
#define SCB_ICSR CORTEX_M_REG(0xE000ED04u)
#define SCB_VTOR CORTEX_M_REG(0xE000ED08u)
#define SCB_CPACR CORTEX_M_REG(0xE000ED88u)
#define SCB_ICSR_PENDSTSET (1u << 26) /* SysTick exception pending */
#define SCB_ICSR_PENDSTCLR (1u << 25) /* write 1: clear a pending SysTick */

/* SysTick: a 24-bit down-counter */
#define SYST_CSR CORTEX_M_REG(0xE000E010u)
#define SYST_RVR CORTEX_M_REG(0xE000E014u)
#define SYST_CVR CORTEX_M_REG(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)
#define SYST_MAX_RELOAD 0x00FFFFFFu

/* NVIC: enable / disable bits for external interrupts, 32 per register */
#define NVIC_ISER(n) CORTEX_M_REG(0xE000E100u + 4u * (n))
#define NVIC_ICER(n) CORTEX_M_REG(0xE000E180u + 4u * (n))

static inline void cortex_m_irq_enable(unsigned irq) { NVIC_ISER(irq / 32u) = 1u << (irq % 32u); }
static inline void cortex_m_irq_disable(unsigned irq) { NVIC_ICER(irq / 32u) = 1u << (irq % 32u); }

/* Masks interrupts and returns the previous mask, for short critical sections. */
static inline uint32_t cortex_m_interrupts_off(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void cortex_m_interrupts_restore(uint32_t primask)
{
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

/* External interrupts go through one dispatcher, so a port attaches its handlers at run time and the
 * vector table stays the same for every machine. Attaching also enables the interrupt in the NVIC. */
typedef void (*te_cortex_m_irq_handler)(void);
void te_cortex_m_irq_attach(unsigned irq, te_cortex_m_irq_handler handler);

#endif /* TINYEDGE_CORTEX_M_H */
