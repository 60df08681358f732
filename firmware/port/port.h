/* tinyedge port layer: the only board-specific functions the firmware calls.
 *
 * One implementation per port (firmware/port/<port>/): bare-metal mps2/mps3 for the emulated boards,
 * Arduino for real boards, host (stdin/stdout) for tests. Like TFLM's DebugLog / ticks /
 * InitializeTarget hooks, but including the serial input the validation protocol needs.
 */
#ifndef TINYEDGE_PORT_H
#define TINYEDGE_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Brings up the serial link at `baud` (ignored where it has no meaning) and the tick counter.
 * Called once, before any other port function. */
void te_port_init(uint32_t baud);

/* Copies up to `max` bytes that have already arrived into `buffer`; returns how many (0 when none).
 * Never blocks. */
size_t te_port_read(uint8_t *buffer, size_t max);

/* Sends all `length` bytes; returns when they are queued. */
void te_port_write(const uint8_t *data, size_t length);

/* A free-running counter that does not wrap in practice (64 bits). */
uint64_t te_port_ticks(void);

/* Rate of te_port_ticks(). */
uint32_t te_port_ticks_per_second(void);

/* What one tick counts, for reports: "cycles" (DWT), "us" (micros()) or "instructions"
 * (emulated boards under QEMU -icount, where SysTick advances once per fixed number of
 * instructions). */
const char *te_port_tick_unit(void);

/* Instructions per tick where te_port_tick_unit() is "instructions", else 1. */
uint32_t te_port_instructions_per_tick(void);

/* Ends the program with `code` where that means something (semihosting exit under QEMU, exit() on
 * the host); on a real board it loops forever. */
void te_port_exit(int code);

#ifdef __cplusplus
}
#endif

#endif /* TINYEDGE_PORT_H */
