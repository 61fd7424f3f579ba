/* rigexit: end an emulator run from inside the Linux guest, through the emulator's own
 * I/O ports (busybox has no port-I/O applet).
 *
 *   rigexit qemu [CODE]   write CODE (0..255, default 0) to QEMU's isa-debug-exit at 0xf4;
 *                         QEMU exits with status (CODE << 1) | 1
 *   rigexit bochs         write "Shutdown" byte by byte to port 0x8900: Bochs ends the run
 *
 * Returns 1 if the emulator is still running afterwards (no such device). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <unistd.h>

#define QEMU_DEBUG_EXIT_PORT 0xf4
#define BOCHS_SHUTDOWN_PORT  0x8900

static void port_out8(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "qemu") == 0) {
        unsigned long code = argc >= 3 ? strtoul(argv[2], NULL, 0) : 0;

        if (code > 255 || ioperm(QEMU_DEBUG_EXIT_PORT, 1, 1) != 0) {
            perror("rigexit: ioperm 0xf4");
            return 1;
        }
        port_out8(QEMU_DEBUG_EXIT_PORT, (uint8_t)code);
    } else if (argc >= 2 && strcmp(argv[1], "bochs") == 0) {
        static const char word[] = "Shutdown";

        if (iopl(3) != 0) { /* ioperm covers ports below 0x400 only */
            perror("rigexit: iopl");
            return 1;
        }
        for (size_t i = 0; i < sizeof(word) - 1; i++)
            port_out8(BOCHS_SHUTDOWN_PORT, (uint8_t)word[i]);
    } else {
        fprintf(stderr, "usage: rigexit qemu [CODE] | rigexit bochs\n");
        return 2;
    }
    sleep(1);
    return 1;
}
