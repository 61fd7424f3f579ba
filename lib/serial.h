/* A polled 16550 UART driver (COM1 at 0x3F8, 115200 8N1 by default).
 *
 * Register access goes through two function pointers so host tests can model the chip;
 * serial_init_pio() selects real port I/O. Output never blocks forever: a UART that never
 * reports an empty transmitter is abandoned after a bounded spin, so a missing or broken
 * port cannot hang the hypervisor. */
#ifndef TRAPVISOR_LIB_SERIAL_H
#define TRAPVISOR_LIB_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1 0x3F8

struct serial_port {
    uint16_t base;
    bool present;
    uint8_t (*in)(uint16_t port);
    void (*out)(uint16_t port, uint8_t value);
};

/* 16550 register offsets (PC16550D data sheet; the same on every PC UART). */
enum {
    UART_DATA = 0, /* THR/RBR, or divisor low when LCR.DLAB = 1 */
    UART_IER = 1,  /* or divisor high when LCR.DLAB = 1 */
    UART_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_SCR = 7,
};

#define UART_LCR_8N1    0x03
#define UART_LCR_DLAB   0x80
#define UART_LSR_THRE   0x20
#define UART_CLOCK_HZ   1843200u /* 1.8432 MHz crystal: divisor = 115200 / baud */
#define SERIAL_SPIN_MAX 100000u

/* Probes the port through its scratch register and programs baud rate and 8N1 with FIFOs.
 * Returns false (and marks the port absent, so writes are dropped) if no UART answers. */
bool serial_init(struct serial_port *sp, uint16_t base, uint32_t baud);
bool serial_init_pio(struct serial_port *sp, uint16_t base, uint32_t baud);

/* Writes one character; '\n' goes out as "\r\n". */
void serial_putc(struct serial_port *sp, char c);
void serial_write(struct serial_port *sp, const char *s, size_t n);

#endif
