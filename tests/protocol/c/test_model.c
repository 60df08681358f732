/* A small deterministic int8 "model" for the protocol tests: each output is a rounded, saturated
 * weighted sum of the whole input, so every input byte and every output byte matters (the tests
 * recompute it in Python and compare bit for bit).
 *
 * Inputs whose first byte is 0x7f act as fault switches, so one firmware can also play a device that
 * hangs (second byte 0x01), aborts (0x02), faults on a bad memory access (0x03) or leaves without a
 * crash (0x04, as a board dropping off USB).
 */
#if defined(__unix__)
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>
#else
#include "port.h"
#endif

#include "te_model.h"

#ifndef TEST_MODEL_NAME
#define TEST_MODEL_NAME "protocol-test"
#endif
#ifndef TEST_MODEL_SHA256
#define TEST_MODEL_SHA256 "0123456789abcdef"
#endif

#define INPUT_BYTES 70
#define OUTPUT_BYTES 10

static int weight(int i, int j)
{
    return (i * 7 + j * 13) % 17 - 8;
}

#if defined(__unix__)
static void stop_answering(void) { for (;;) pause(); } /* without spinning a shared CPU */
static void leave(void) { _exit(0); }
static void abort_firmware(void) { abort(); }
#else
static void stop_answering(void) { for (;;) { } }
static void leave(void) { te_port_exit(0); }
static void abort_firmware(void) { te_port_exit(134); }
#endif

static void act_on_fault_switch(const int8_t *input)
{
    if (input[0] != 0x7f) {
        return;
    }
    if (input[1] == 0x01) {
        stop_answering();
    } else if (input[1] == 0x02) {
        abort_firmware();
    } else if (input[1] == 0x03) {
        /* On the host: address 16 is unmapped (SIGSEGV). On Cortex-M: 0xf0000000 is no memory, a
         * bus fault that escalates to HardFault. */
#if defined(__unix__)
        volatile int *nowhere = (volatile int *)(uintptr_t)16u;
#else
        volatile int *nowhere = (volatile int *)(uintptr_t)0xf0000000u;
#endif
        *nowhere = 1;
    } else if (input[1] == 0x04) {
        leave();
    }
}

static int invoke(const int8_t *input, int8_t *output)
{
    int i;
    int j;
    act_on_fault_switch(input);
    for (j = 0; j < OUTPUT_BYTES; ++j) {
        long sum = 0;
        long rounded;
        for (i = 0; i < INPUT_BYTES; ++i) {
            sum += (long)input[i] * weight(i, j);
        }
        /* Divide by 64, rounding half away from zero, then saturate to int8. */
        rounded = sum >= 0 ? (sum + 32) / 64 : -((-sum + 32) / 64);
        output[j] = (int8_t)(rounded > 127 ? 127 : rounded < -128 ? -128 : rounded);
    }
    return 0;
}

TE_MODEL_DEFINE(TEST_MODEL_NAME, TEST_MODEL_SHA256, INPUT_BYTES, OUTPUT_BYTES, 0.0390625f, -3, NULL,
                invoke);
