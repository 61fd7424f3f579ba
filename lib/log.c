/* The serial log; see log.h. */
#include "lib/log.h"

#include "lib/spinlock.h"

enum log_level log_level = LOG_NORMAL;

static struct {
    fmt_putc_fn putc;
    void *ctx;
} sinks[LOG_MAX_SINKS];
static struct spinlock log_lock = SPINLOCK_INIT;

bool log_add_sink(fmt_putc_fn putc, void *ctx)
{
    bool added = false;
    spin_lock(&log_lock);
    for (int i = 0; i < LOG_MAX_SINKS && !added; i++) {
        if (!sinks[i].putc) {
            sinks[i].putc = putc;
            sinks[i].ctx = ctx;
            added = true;
        }
    }
    spin_unlock(&log_lock);
    return added;
}

void log_remove_sink(fmt_putc_fn putc, void *ctx)
{
    spin_lock(&log_lock);
    for (int i = 0; i < LOG_MAX_SINKS; i++)
        if (sinks[i].putc == putc && sinks[i].ctx == ctx)
            sinks[i].putc = 0;
    spin_unlock(&log_lock);
}

static void fan_out(void *ctx, char c)
{
    (void)ctx;
    for (int i = 0; i < LOG_MAX_SINKS; i++)
        if (sinks[i].putc)
            sinks[i].putc(sinks[i].ctx, c);
}

void log_vprintf(const char *fmt, va_list ap)
{
    spin_lock(&log_lock);
    fmt_vformat(fan_out, 0, fmt, ap);
    spin_unlock(&log_lock);
}

void log_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vprintf(fmt, ap);
    va_end(ap);
}
