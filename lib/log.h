/* The serial log: one line per event, prefixed by subsystem ("vmx: ...", "ept: ...").
 *
 * Output goes to every registered sink (COM1; before launch also the UEFI console). A lock
 * keeps lines from different CPUs whole. Never call from a path that is being timed. */
#ifndef TRAPVISOR_LIB_LOG_H
#define TRAPVISOR_LIB_LOG_H

#include <stdbool.h>

#include "lib/fmt.h"

#define LOG_MAX_SINKS 3

enum log_level {
    LOG_QUIET = 0,   /* errors and the verdict lines only */
    LOG_NORMAL = 1,  /* one line per event */
    LOG_VERBOSE = 2, /* per-exit detail for debugging */
};

extern enum log_level log_level;

bool log_add_sink(fmt_putc_fn putc, void *ctx);
void log_remove_sink(fmt_putc_fn putc, void *ctx);
void log_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vprintf(const char *fmt, va_list ap);

/* Logs at most once per call site (e.g. an unsupported instruction from a guest loop). */
#define log_once(...)                                                                              \
    do {                                                                                           \
        static int log_once_done_;                                                                 \
        if (!__atomic_exchange_n(&log_once_done_, 1, __ATOMIC_RELAXED))                            \
            log_printf(__VA_ARGS__);                                                               \
    } while (0)

#define log_verbose(...)                                                                           \
    do {                                                                                           \
        if (log_level >= LOG_VERBOSE)                                                              \
            log_printf(__VA_ARGS__);                                                               \
    } while (0)

#endif
