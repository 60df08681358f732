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

/* An MLPerf Tiny benchmark build (`tinyedge mlperf`, tinyedge/mlperf.py) answers as the reference
 * firmware of one benchmark does. Its tinyedge_config.h defines TE_MLPERF_MODEL_ID (the id `profile`
 * names: kws01, vww01, ic01, ad01), TE_MLPERF_DB_BYTES (the largest `db load`, the reference's
 * MAX_DB_INPUT_SIZE), TE_MLPERF_INPUT and TE_MLPERF_RESULTS below; a float32 input also
 * TE_MLPERF_INPUT_SCALE and TE_MLPERF_INPUT_ZERO_POINT (the model's input quantization). */
#define TE_MLPERF_INPUT_INT8 0      /* the bytes are the model's input (kws01) */
#define TE_MLPERF_INPUT_UINT8 1     /* uint8 pixels, each minus 128 (vww01, ic01) */
#define TE_MLPERF_INPUT_FLOAT32 2   /* little-endian float32 values, quantized on the device (ad01) */
#define TE_MLPERF_RESULTS_FIXED3 0            /* %0.3f of each dequantized output (ic01) */
#define TE_MLPERF_RESULTS_FIXED3_COMMAS 1     /* the same, each followed by ',' (vww01) */
#define TE_MLPERF_RESULTS_TRUNCATED3 2        /* "0." and three truncated digits of each (kws01) */
#define TE_MLPERF_RESULTS_MEAN_SQUARED_ERROR 3 /* %0.3f of the mean squared error between the float
                                                 * input and the dequantized output (ad01) */

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
