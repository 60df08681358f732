/* The device side of the validation protocol: the MLPerf Tiny / EEMBC benchmark commands, answered as
 * the reference firmware (mlcommons/tiny benchmark/api/internally_implemented.cpp) answers them, plus
 * tinyedge's own `te-` commands. See README.md beside this file for every command and line.
 *
 * Platform access goes only through port.h; the model only through te_model.h. No heap.
 */
#ifndef TINYEDGE_TE_PROTOCOL_H
#define TINYEDGE_TE_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest command kept, as the reference's EE_CMD_SIZE: characters past it are dropped. */
#define TE_CMD_SIZE 80u
#define TE_CMD_TERMINATOR '%'

/* Serial rate handed to te_port_init (boards override it with -DTE_SERIAL_BAUD=...). */
#ifndef TE_SERIAL_BAUD
#define TE_SERIAL_BAUD 115200u
#endif

/* Brings the port and the model up and prints the boot lines, ending with `m-ready`. */
void te_protocol_start(void);

/* Handles whatever bytes have arrived (never waits). Call it forever after te_protocol_start; an
 * Arduino sketch calls it from loop(). */
void te_protocol_poll(void);

/* Feeds one received character to the command assembler; a `%` runs the command. */
void te_protocol_receive(char c);

#ifdef __cplusplus
}
#endif

#endif /* TINYEDGE_TE_PROTOCOL_H */
