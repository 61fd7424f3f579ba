/* lib/serial and lib/log against a modelled 16550: divisor and line setup, CRLF, an absent
 * port, a stuck transmitter that must not hang, and log lines fanned out to sinks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/log.h"
#include "lib/serial.h"

/* A 16550 model: registers by offset, DLAB-banked divisor, transmitted bytes captured. */
static struct {
    uint8_t reg[8];
    uint8_t dll, dlm;
    bool absent;
    bool stuck; /* THRE never set */
    char tx[256];
    size_t ntx;
    unsigned lsr_reads;
} uart;

static uint8_t fake_in(uint16_t port)
{
    unsigned off = port - SERIAL_COM1;
    if (uart.absent)
        return 0xFF;
    if (off == UART_LSR) {
        uart.lsr_reads++;
        return uart.stuck ? 0x00 : UART_LSR_THRE;
    }
    return uart.reg[off];
}

static void fake_out(uint16_t port, uint8_t v)
{
    unsigned off = port - SERIAL_COM1;
    if (uart.absent)
        return;
    bool dlab = uart.reg[UART_LCR] & UART_LCR_DLAB;
    if (off == UART_DATA && dlab)
        uart.dll = v;
    else if (off == UART_IER && dlab)
        uart.dlm = v;
    else if (off == UART_DATA && uart.ntx < sizeof uart.tx)
        uart.tx[uart.ntx++] = (char)v;
    else
        uart.reg[off] = v;
}

static int reset(void **state)
{
    (void)state;
    memset(&uart, 0, sizeof uart);
    return 0;
}

static struct serial_port fake_port(void)
{
    return (struct serial_port){.in = fake_in, .out = fake_out};
}

static void serial_init_programs_115200_8n1(void **state)
{
    (void)state;
    struct serial_port sp = fake_port();
    assert_true(serial_init(&sp, SERIAL_COM1, 115200));
    assert_int_equal(uart.dll, 1);
    assert_int_equal(uart.dlm, 0);
    assert_int_equal(uart.reg[UART_LCR], UART_LCR_8N1); /* DLAB cleared again */
    assert_int_equal(uart.reg[UART_IER], 0);            /* polled */

    reset(NULL);
    sp = fake_port();
    assert_true(serial_init(&sp, SERIAL_COM1, 9600));
    assert_int_equal(uart.dll, 12);
}

static void serial_putc_sends_crlf_for_newline(void **state)
{
    (void)state;
    struct serial_port sp = fake_port();
    serial_init(&sp, SERIAL_COM1, 115200);
    serial_write(&sp, "a\nb", 3);
    assert_int_equal(uart.ntx, 4);
    assert_memory_equal(uart.tx, "a\r\nb", 4);
}

static void serial_absent_port_is_refused_and_writes_dropped(void **state)
{
    (void)state;
    uart.absent = true;
    struct serial_port sp = fake_port();
    assert_false(serial_init(&sp, SERIAL_COM1, 115200));
    serial_write(&sp, "x", 1);
    assert_int_equal(uart.ntx, 0);
}

static void serial_stuck_transmitter_does_not_hang(void **state)
{
    (void)state;
    struct serial_port sp = fake_port();
    serial_init(&sp, SERIAL_COM1, 115200);
    uart.stuck = true;
    serial_write(&sp, "hello", 5);
    assert_int_equal(uart.ntx, 0);
    assert_false(sp.present);
    /* Gave up after a bounded spin on the first character, then stopped polling. */
    assert_int_equal(uart.lsr_reads, SERIAL_SPIN_MAX);
}

static void serial_sink(void *ctx, char c)
{
    serial_putc(ctx, c);
}

static char second[64];
static size_t nsecond;
static void buffer_sink(void *ctx, char c)
{
    (void)ctx;
    if (nsecond < sizeof second)
        second[nsecond++] = c;
}

static void log_lines_reach_every_sink(void **state)
{
    (void)state;
    struct serial_port sp = fake_port();
    serial_init(&sp, SERIAL_COM1, 115200);
    nsecond = 0;
    assert_true(log_add_sink(serial_sink, &sp));
    assert_true(log_add_sink(buffer_sink, NULL));
    log_printf("vmx: cpu %u launched\n", 1u);
    log_remove_sink(serial_sink, &sp);
    log_remove_sink(buffer_sink, NULL);
    log_printf("dropped\n");
    assert_int_equal(uart.ntx, 21);
    assert_memory_equal(uart.tx, "vmx: cpu 1 launched\r\n", 21);
    assert_int_equal(nsecond, 20);
    assert_memory_equal(second, "vmx: cpu 1 launched\n", 20);
}

static int once_calls;
static void count_sink(void *ctx, char c)
{
    (void)ctx;
    if (c == '\n')
        once_calls++;
}

static void log_once_logs_a_site_once(void **state)
{
    (void)state;
    log_add_sink(count_sink, NULL);
    for (int i = 0; i < 5; i++)
        log_once("decode: unsupported %d\n", i);
    log_remove_sink(count_sink, NULL);
    assert_int_equal(once_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(serial_init_programs_115200_8n1, reset),
        cmocka_unit_test_setup(serial_putc_sends_crlf_for_newline, reset),
        cmocka_unit_test_setup(serial_absent_port_is_refused_and_writes_dropped, reset),
        cmocka_unit_test_setup(serial_stuck_transmitter_does_not_hang, reset),
        cmocka_unit_test_setup(log_lines_reach_every_sink, reset),
        cmocka_unit_test_setup(log_once_logs_a_site_once, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
