/* Test-only firmware for the emulated boards: exercises the port layer over the real UART.
 *
 * Prints "ready unit=<unit> ipt=<instructions per tick> hz=<ticks per second> float=1414 cpp=1\r\n" at
 * boot (a float computation and a C++ static constructor, to show both work after reset), then
 * answers lines (ending in '\n'):
 *   e<text>   -> "<text>\r\n"                            echo
 *   t<n>      -> "ticks=<t> instructions=<t*ipt>\r\n"    a loop of exactly 2*n instructions, timed
 *   b<n>      -> "sum=<s> count=<n>\r\n"                 n raw bytes read, summed (bulk input)
 *   w         -> "wraps-ok ticks=<t>\r\n"                watches te_port_ticks() across SysTick wraps
 *   f         -> a HardFault (undefined instruction); the platform prints the marker and exits
 *   x<code>   -> te_port_exit(code)
 * Unknown lines get "?\r\n". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_sum.h"
#include "port.h"

/* From cpp_check.cpp: set by the constructor of a static C++ object, so 1 proves constructors ran. */
extern int cpp_constructor_ran(void);

static void put(const char *text) { te_port_write((const uint8_t *)text, strlen(text)); }

static size_t read_line(char *line, size_t size)
{
    size_t length = 0;
    for (;;) {
        uint8_t byte;
        if (te_port_read(&byte, 1) == 0) {
            continue;
        }
        if (byte == '\n') {
            line[length] = '\0';
            return length;
        }
        if (length + 1 < size) {
            line[length++] = (char)byte;
        }
    }
}

/* Two instructions per iteration (subs, bne): a workload whose instruction count is known exactly.
 * (On the host port it is only a loop of the same length.) */
__attribute__((noinline)) static void count_down(uint32_t iterations)
{
    if (iterations == 0) {
        return;
    }
#if defined(__arm__)
    __asm volatile("1:\n\t"
                   "subs %0, %0, #1\n\t"
                   "bne 1b\n\t"
                   : "+r"(iterations)
                   :
                   : "cc");
#else
    for (volatile uint32_t left = iterations; left > 0; left--) {
    }
#endif
}

__attribute__((noinline, used)) void crash_now(void) { __builtin_trap(); }

static void timed_loop(uint32_t iterations)
{
    uint64_t start = te_port_ticks();
    count_down(iterations);
    uint64_t ticks = te_port_ticks() - start;
    char reply[96];
    snprintf(reply, sizeof reply, "ticks=%lu instructions=%lu\r\n", (unsigned long)ticks,
             (unsigned long)(ticks * te_port_instructions_per_tick()));
    put(reply);
}

static void bulk_read(uint32_t count)
{
    uint32_t sum = 0;
    uint32_t received = 0;
    uint8_t chunk[64];
    while (received < count) {
        uint32_t want = count - received < sizeof chunk ? count - received : sizeof chunk;
        size_t got = te_port_read(chunk, want);
        sum = byte_sum(sum, chunk, got);
        received += (uint32_t)got;
    }
    char reply[64];
    snprintf(reply, sizeof reply, "sum=%lu count=%lu\r\n", (unsigned long)sum, (unsigned long)received);
    put(reply);
}

/* Floating point after reset: faults at the first instruction unless the start-up code enabled the FPU. */
static long float_check(void)
{
    volatile float two = 2.0f;
    volatile float scale = 1000.0f;
    float root = two;
    for (int i = 0; i < 20; i++) {
        root = 0.5f * (root + two / root); /* Newton's square root of 2 */
    }
    return (long)(root * scale);
}

/* Reads the 64-bit tick counter every 10,000 instructions for 700 million instructions: longer than one
 * 24-bit SysTick period on every emulated machine (2^24 x 40 = 671 million on mps2), so the count crosses
 * a wrap. Each step must advance by 10,000 instructions' worth of ticks (plus the loop's few): a lost
 * or doubled wrap, or a step backwards, shows. */
static void watch_wrap(void)
{
    const uint64_t expected = 10000u / te_port_instructions_per_tick();
    const uint64_t first = te_port_ticks();
    uint64_t previous = first;
    int ok = 1;
    for (uint32_t step = 0; step < 70000u && ok; step++) {
        count_down(5000);
        uint64_t now = te_port_ticks();
        if (now < previous || now - previous < expected || now - previous > expected + expected / 10u + 2u) {
            ok = 0;
        }
        previous = now;
    }
    char reply[64];
    snprintf(reply, sizeof reply, "%s ticks=%lu\r\n", ok ? "wraps-ok" : "wraps-bad",
             (unsigned long)(previous - first));
    put(reply);
}

int main(void)
{
#ifdef CRASH_AT_BOOT
    crash_now(); /* before te_port_init: the fault handler must bring the UART up itself */
#endif
    te_port_init(115200);
    char line[128];
    snprintf(line, sizeof line, "ready unit=%s ipt=%lu hz=%lu float=%ld cpp=%d\r\n", te_port_tick_unit(),
             (unsigned long)te_port_instructions_per_tick(), (unsigned long)te_port_ticks_per_second(),
             float_check(), cpp_constructor_ran());
    put(line);
    for (;;) {
        read_line(line, sizeof line);
        switch (line[0]) {
        case 'e':
            put(line + 1);
            put("\r\n");
            break;
        case 't':
            timed_loop((uint32_t)strtoul(line + 1, NULL, 10));
            break;
        case 'b':
            bulk_read((uint32_t)strtoul(line + 1, NULL, 10));
            break;
        case 'w':
            watch_wrap();
            break;
        case 'f':
            crash_now();
            break;
        case 'x':
            te_port_exit(atoi(line + 1));
            break;
        default:
            put("?\r\n");
            break;
        }
    }
}
