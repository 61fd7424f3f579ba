/* Polled 16550 UART driver; see serial.h. */
#include "lib/serial.h"

#include "lib/io.h"

static uint8_t pio_in(uint16_t port)
{
    return inb(port);
}

static void pio_out(uint16_t port, uint8_t value)
{
    outb(port, value);
}

bool serial_init(struct serial_port *sp, uint16_t base, uint32_t baud)
{
    sp->base = base;
    sp->present = false;

    /* The scratch register holds what is written on a real 16550; an absent port floats. */
    sp->out(base + UART_SCR, 0x5A);
    if (sp->in(base + UART_SCR) != 0x5A)
        return false;
    sp->out(base + UART_SCR, 0xA5);
    if (sp->in(base + UART_SCR) != 0xA5)
        return false;

    uint32_t divisor = baud ? 115200u / baud : 1;
    if (divisor == 0 || divisor > 0xFFFF)
        divisor = 1;
    sp->out(base + UART_IER, 0x00); /* polled: no UART interrupts */
    sp->out(base + UART_LCR, UART_LCR_DLAB);
    sp->out(base + UART_DATA, (uint8_t)divisor);
    sp->out(base + UART_IER, (uint8_t)(divisor >> 8));
    sp->out(base + UART_LCR, UART_LCR_8N1);
    sp->out(base + UART_FCR, 0xC7); /* enable and clear FIFOs, 14-byte trigger */
    sp->out(base + UART_MCR, 0x03); /* DTR, RTS */
    sp->present = true;
    return true;
}

bool serial_init_pio(struct serial_port *sp, uint16_t base, uint32_t baud)
{
    sp->in = pio_in;
    sp->out = pio_out;
    return serial_init(sp, base, baud);
}

static void put_raw(struct serial_port *sp, uint8_t c)
{
    for (unsigned spin = 0; spin < SERIAL_SPIN_MAX; spin++) {
        if (sp->in(sp->base + UART_LSR) & UART_LSR_THRE) {
            sp->out(sp->base + UART_DATA, c);
            return;
        }
        cpu_pause();
    }
    /* The transmitter never empties: give the port up rather than hang. */
    sp->present = false;
}

void serial_putc(struct serial_port *sp, char c)
{
    if (!sp->present)
        return;
    if (c == '\n')
        put_raw(sp, '\r');
    put_raw(sp, (uint8_t)c);
}

void serial_write(struct serial_port *sp, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        serial_putc(sp, s[i]);
}
