/* Virtual devices on the real machine: placement, the PCI bus glue and the exit hooks. */
#include "boot/platform.h"
#include "lib/io.h"
#include "lib/log.h"
#include "vmx/exit.h"

static uint32_t cfg_port_passthrough(uint16_t port, unsigned size, bool write, uint32_t value)
{
    if (write) {
        if (size == 1)
            outb(port, (uint8_t)value);
        else if (size == 2)
            outw(port, (uint16_t)value);
        else
            outl(port, value);
        return 0;
    }
    return size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port);
}

bool boot_place_devices(char *why, unsigned whylen)
{
    (void)why;
    (void)whylen;
    return true;
}

void boot_install_hooks(void)
{
    vmx_hooks.io = cfg_port_passthrough;
}
