/* Arm semihosting calls the firmware makes under QEMU (-semihosting-config enable=on). */
#ifndef TINYEDGE_SEMIHOSTING_H
#define TINYEDGE_SEMIHOSTING_H

/* Ends the emulation; QEMU exits with `code`. Never returns. */
void te_semihosting_exit(int code) __attribute__((noreturn));

#endif /* TINYEDGE_SEMIHOSTING_H */
