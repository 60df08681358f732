/* Test-only: wraps the port's serial start-up (linked with -Wl,--wrap=te_port_init) so that the real
 * firmware, with the real model, sends garbage before its boot banner — as a bootloader, a ROM
 * monitor or a link at the wrong baud rate does: binary bytes (NULs, bytes that are not UTF-8, stray
 * line ends), banner words in the wrong order, and a last line that never ends, so the first banner
 * line arrives glued to it. Everything after that is the unchanged firmware. */
#include <stddef.h>
#include <stdint.h>

void __real_te_port_init(uint32_t baud);
void __wrap_te_port_init(uint32_t baud);
void te_port_write(const uint8_t *data, size_t length);

void __wrap_te_port_init(uint32_t baud)
{
    static const char words[] = "\r\nboot noise m-ready\r\nm-init-done junk\r\nm-ready\r\nno line end here ";
    uint8_t noise[200];
    uint32_t state = 0x2545f491u;
    size_t i;

    __real_te_port_init(baud);
    for (i = 0; i < sizeof noise; ++i) {          /* a fixed pseudo-random byte stream (xorshift32) */
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        noise[i] = (uint8_t)(state >> 24);
    }
    noise[0] = 0x00u;
    noise[1] = 0xffu;
    noise[2] = 0xfeu;
    te_port_write(noise, sizeof noise);
    te_port_write((const uint8_t *)words, sizeof words - 1u);
}
