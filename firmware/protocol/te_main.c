/* Entry point for bare-metal and host builds. Arduino builds provide main() themselves and call
 * te_protocol_start() from setup() and te_protocol_poll() from loop(). */
#include "te_protocol.h"

#if !defined(ARDUINO)
int main(void)
{
    te_protocol_start();
    for (;;) {
        te_protocol_poll();
    }
}
#else
typedef int te_main_not_needed_; /* ISO C wants at least one declaration */
#endif
