/* Host port: the firmware runs as a process on this machine and its serial link is stdin/stdout. The
 * host target (tinyedge/targets/host.py, `--board host`) and the protocol tests both build this file.
 *
 * Ticks are microseconds of the monotonic clock. A segmentation fault prints the same marker line as the
 * Cortex-M fault handler (firmware/platform/cortex-m/fault_marker.h), so the host side reads a host crash
 * as it reads a HardFault; the host has no exception frame, so the pc field is the faulting address. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "port.h"

static void write_all(const uint8_t *data, size_t length)
{
    while (length > 0u) {
        ssize_t written = write(STDOUT_FILENO, data, length);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            _exit(2); /* the host closed the pipe */
        }
        data += written;
        length -= (size_t)written;
    }
}

static void report_fault(int signal_number, siginfo_t *info, void *context)
{
    static const char hex[] = "0123456789abcdef";
    char line[] = "\r\ne-[hardfault pc=0x00000000]\r\n";
    uint32_t address = (uint32_t)(uintptr_t)info->si_addr;
    size_t i;
    (void)context;
    for (i = 0; i < 8; ++i) {
        line[sizeof "\r\ne-[hardfault pc=0x" - 1 + i] = hex[(address >> (28u - 4u * i)) & 0xfu];
    }
    write_all((const uint8_t *)line, sizeof line - 1);
    _exit(128 + signal_number);
}

void te_port_init(uint32_t baud)
{
    struct sigaction action;
    (void)baud;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = report_fault;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &action, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed pipe is a failed write (_exit above), not a silent death */
}

size_t te_port_read(uint8_t *buffer, size_t max)
{
    /* Waits at most 10 ms when nothing is there: firmware main loops call te_port_read() without pause,
     * and on a host (unlike a microcontroller) spinning would take a whole CPU core from others. */
    struct pollfd input = {STDIN_FILENO, POLLIN, 0};
    ssize_t count;
    if (max == 0u || poll(&input, 1, 10) <= 0) {
        return 0u;
    }
    count = read(STDIN_FILENO, buffer, max);
    if (count == 0) {
        exit(0); /* the host closed our input: the session is over */
    }
    return count < 0 ? 0u : (size_t)count;
}

void te_port_write(const uint8_t *data, size_t length)
{
    write_all(data, length);
}

uint64_t te_port_ticks(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

uint32_t te_port_ticks_per_second(void)
{
    return 1000000u;
}

const char *te_port_tick_unit(void)
{
    return "us";
}

uint32_t te_port_instructions_per_tick(void)
{
    return 1u;
}

void te_port_exit(int code)
{
    exit(code);
}
