/* Host port: the firmware runs as a native process and its serial link is stdin/stdout, so the
 * protocol code can be driven over pipes in unit tests. Ticks are microseconds of the monotonic clock. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "port.h"

void te_port_init(uint32_t baud) { (void)baud; }

size_t te_port_read(uint8_t *buffer, size_t max)
{
    /* Waits at most 1 ms when nothing is there: firmware main loops call te_port_read() without pause,
     * and on a host (unlike a microcontroller) spinning would take a whole CPU core from the tests. */
    struct pollfd input = {.fd = STDIN_FILENO, .events = POLLIN};
    if (max == 0 || poll(&input, 1, 1) <= 0 || !(input.revents & (POLLIN | POLLHUP))) {
        return 0;
    }
    ssize_t got = read(STDIN_FILENO, buffer, max);
    if (got == 0) {
        exit(0); /* the host closed the link: nothing more will come */
    }
    return got > 0 ? (size_t)got : 0;
}

void te_port_write(const uint8_t *data, size_t length)
{
    while (length > 0) {
        ssize_t written = write(STDOUT_FILENO, data, length);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            exit(1); /* the host went away */
        }
        data += written;
        length -= (size_t)written;
    }
}

uint64_t te_port_ticks(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

uint32_t te_port_ticks_per_second(void) { return 1000000u; }

const char *te_port_tick_unit(void) { return "us"; }

uint32_t te_port_instructions_per_tick(void) { return 1u; }

void te_port_exit(int code) { exit(code); }
