/* Arm CMSDK APB UART: the console UART of the MPS2 and MPS3 FPGA images (and of QEMU's models of them).
 * Register map from the CMSDK technical reference, as QEMU 7.2 hw/char/cmsdk-apb-uart.c implements it. */
#ifndef TINYEDGE_CMSDK_UART_H
#define TINYEDGE_CMSDK_UART_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    volatile uint32_t data;      /* +0x00 read: received byte; write: byte to send */
    volatile uint32_t state;     /* +0x04 */
    volatile uint32_t ctrl;      /* +0x08 */
    volatile uint32_t intstatus; /* +0x0C read: pending interrupts; write 1: clear */
    volatile uint32_t bauddiv;   /* +0x10 */
} cmsdk_uart;

#define CMSDK_UART_STATE_TX_FULL (1u << 0)
#define CMSDK_UART_STATE_RX_FULL (1u << 1)
#define CMSDK_UART_CTRL_TX_ENABLE (1u << 0)
#define CMSDK_UART_CTRL_RX_ENABLE (1u << 1)
#define CMSDK_UART_CTRL_RX_INTERRUPT (1u << 3)
#define CMSDK_UART_INT_RX (1u << 1)
#define CMSDK_UART_MIN_BAUDDIV 16u /* smaller dividers are invalid on the hardware */

static inline void cmsdk_uart_set_baud(cmsdk_uart *uart, uint32_t clock_hz, uint32_t baud)
{
    uint32_t divider = baud ? clock_hz / baud : CMSDK_UART_MIN_BAUDDIV;
    uart->bauddiv = divider < CMSDK_UART_MIN_BAUDDIV ? CMSDK_UART_MIN_BAUDDIV : divider;
}

/* Busy-waits for room in the one-byte transmit holding register; works in any context (faults too). */
static inline void cmsdk_uart_write(cmsdk_uart *uart, const uint8_t *data, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        while (uart->state & CMSDK_UART_STATE_TX_FULL) {
        }
        uart->data = data[i];
    }
}

#endif /* TINYEDGE_CMSDK_UART_H */
