/* Reports a crash on the console UART and ends the emulation with a failure code. */
#include <stdint.h>

#include "cmsdk_uart.h"
#include "fault_marker.h"
#include "machine.h"
#include "semihosting.h"

void te_platform_report_fault(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn));

void te_platform_report_fault(const uint32_t *frame, uint32_t exc_return)
{
    (void)exc_return;
    /* The exception frame holds r0-r3, r12, lr, pc, xpsr; pc is the sixth word. */
    uint32_t pc = frame[6];
    static const char hex[] = "0123456789abcdef";
    char digits[8];
    for (int i = 0; i < 8; i++) {
        digits[i] = hex[(pc >> (28 - 4 * i)) & 0xFu];
    }
    static const char prefix[] = TINYEDGE_FAULT_MARKER_PREFIX;
    static const char suffix[] = TINYEDGE_FAULT_MARKER_SUFFIX;

    /* The crash may come before the port initialised the UART: enable the transmitter here. */
    cmsdk_uart *uart = (cmsdk_uart *)MACHINE_CONSOLE_UART_BASE;
    if (uart->bauddiv < CMSDK_UART_MIN_BAUDDIV) {
        uart->bauddiv = CMSDK_UART_MIN_BAUDDIV;
    }
    uart->ctrl |= CMSDK_UART_CTRL_TX_ENABLE;
    /* Start on a fresh line so the marker is never glued to partial output. */
    cmsdk_uart_write(uart, (const uint8_t *)"\r\n", 2);
    cmsdk_uart_write(uart, (const uint8_t *)prefix, sizeof prefix - 1);
    cmsdk_uart_write(uart, (const uint8_t *)digits, sizeof digits);
    cmsdk_uart_write(uart, (const uint8_t *)suffix, sizeof suffix - 1);
    te_semihosting_exit(TINYEDGE_FAULT_EXIT_CODE);
}
