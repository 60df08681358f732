/* The system calls newlib(-nano) needs on bare metal: console output to the UART, a heap bounded by
 * the linker script's reservation, and exit through semihosting. Files do not exist here. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cmsdk_uart.h"
#include "machine.h"
#include "semihosting.h"

#undef errno
extern int errno;

extern uint8_t __heap_start;
extern uint8_t __heap_end;

/* C++ objects with static storage register their destructors against this handle. */
void *__dso_handle = 0;

/* Called by __libc_init_array / __libc_fini_array; the crti/crtn versions are not linked (-nostartfiles). */
void _init(void) {}
void _fini(void) {}

void *_sbrk(ptrdiff_t increment)
{
    static uint8_t *heap_top = &__heap_start;
    if (increment > &__heap_end - heap_top || increment < &__heap_start - heap_top) {
        errno = ENOMEM;
        return (void *)-1;
    }
    uint8_t *previous = heap_top;
    heap_top += increment;
    return previous;
}

int _write(int file, const char *data, int length)
{
    if (file != 1 && file != 2) {
        errno = EBADF;
        return -1;
    }
    cmsdk_uart *uart = (cmsdk_uart *)MACHINE_CONSOLE_UART_BASE;
    uart->ctrl |= CMSDK_UART_CTRL_TX_ENABLE;
    cmsdk_uart_write(uart, (const uint8_t *)data, (size_t)length);
    return length;
}

int _read(int file, char *data, int length)
{
    (void)file;
    (void)data;
    (void)length;
    return 0; /* end of file: the protocol reads the UART through te_port_read() */
}

int _close(int file)
{
    (void)file;
    errno = EBADF;
    return -1;
}

int _fstat(int file, struct stat *status)
{
    (void)file;
    status->st_mode = S_IFCHR;
    return 0;
}

int _isatty(int file) { return file >= 0 && file <= 2; }

int _lseek(int file, int offset, int whence)
{
    (void)file;
    (void)offset;
    (void)whence;
    return 0;
}

int _getpid(void) { return 1; }

int _kill(int pid, int signal)
{
    (void)pid;
    (void)signal;
    errno = EINVAL;
    return -1;
}

void _exit(int code) { te_semihosting_exit(code); }
