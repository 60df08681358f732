/* What a crashed firmware prints before it stops, so a host can tell a crash from a hang.
 *
 * The line is TINYEDGE_FAULT_MARKER_PREFIX, the faulting PC as 8 lower-case hex digits, then "]\r\n":
 *     e-[hardfault pc=0x00000a1c]
 * It follows the protocol's error-line style (e-[...]). After it the firmware ends through semihosting
 * with TINYEDGE_FAULT_EXIT_CODE, so QEMU exits non-zero. tinyedge/emulator.py matches the same text. */
#ifndef TINYEDGE_FAULT_MARKER_H
#define TINYEDGE_FAULT_MARKER_H

#define TINYEDGE_FAULT_MARKER_PREFIX "e-[hardfault pc=0x"
#define TINYEDGE_FAULT_MARKER_SUFFIX "]\r\n"
#define TINYEDGE_FAULT_EXIT_CODE 3

#endif /* TINYEDGE_FAULT_MARKER_H */
