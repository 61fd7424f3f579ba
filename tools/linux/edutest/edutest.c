/* edutest (Linux): drives the edu driver (tools/linux/edu) and the edu device's registers
 * through sysfs, and prints one line per check in edutest.efi's format:
 *
 *   edutest: <check> ... ok|FAIL
 *   edutest: <N> passed, <M> failed
 *
 * plus `linux: online cpus <list>`. Register accesses go through an mmap of the device's
 * sysfs `resource0` (each access is one MMIO instruction: under Trapvisor one EPT-violation
 * exit). Interrupts and DMA go through the driver's /dev/eduN ioctls.
 *
 * Usage: edutest [--dev /dev/edu0] [--concurrent OPS] [--quiet]
 *   --concurrent OPS: one thread pinned to each online CPU issues OPS MMIO operations at
 *   once; afterwards the device state, the driver's interrupt count and (when Trapvisor's
 *   statistics device is present) the per-device MMIO exit counters must be exact. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/linux/edu/edu_ioctl.h"
#include "vmx/stats_abi.h"

#define EDU_VENDOR     0x1234u
#define EDU_DEVICE     0x11e8u
#define EDU_IDENT      0x010000edu /* QEMU's edu 1.0 */
#define EDU_BAR0_SIZE  (1u << 20)
#define MAX_CPUS       64
#define PCI_CAP_ID_MSI 0x05u

static unsigned passed, failed;

static void check(bool ok, const char *fmt, ...)
{
    va_list ap;
    char name[160];

    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    printf("edutest: %s ... %s\n", name, ok ? "ok" : "FAIL");
    fflush(stdout);
    if (ok)
        passed++;
    else
        failed++;
}

/* Detail for a failed check, on its own line so check lines keep one format. */
static void note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("edutest:   ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int read_text(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int ret = 0;

    if (!f)
        return -1;
    if (fputs(text, f) < 0)
        ret = -1;
    if (fclose(f) != 0)
        ret = -1;
    return ret;
}

static unsigned long read_ulong(const char *path, bool *ok)
{
    char buf[64], *end;
    unsigned long v;

    *ok = false;
    if (read_text(path, buf, sizeof(buf)) != 0)
        return 0;
    errno = 0;
    v = strtoul(buf, &end, 0);
    *ok = errno == 0 && end != buf;
    return v;
}

/* Finds the first PCI function vendor:device in sysfs; fills its directory. */
static bool find_pci(unsigned vendor, unsigned device, char *dir, size_t len)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    bool found = false;

    if (!d)
        return false;
    while (!found && (e = readdir(d)) != NULL) {
        char path[512];
        bool ok1, ok2;
        unsigned long v, dv;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
        v = read_ulong(path, &ok1);
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
        dv = read_ulong(path, &ok2);
        if (ok1 && ok2 && v == vendor && dv == device) {
            snprintf(dir, len, "/sys/bus/pci/devices/%s", e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* Maps a BAR through sysfs resourceN; NULL on failure. */
static volatile uint8_t *map_resource(const char *dir, int bar, size_t len, int prot)
{
    char path[600];
    int fd;
    void *p;

    snprintf(path, sizeof(path), "%s/resource%d", dir, bar);
    fd = open(path, (prot & PROT_WRITE) ? (O_RDWR | O_SYNC) : (O_RDONLY | O_SYNC));
    if (fd < 0)
        return NULL;
    p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : (volatile uint8_t *)p;
}

/* --- register access: one instruction each ---------------------------------------------- */

static volatile uint8_t *bar0;

static uint32_t rd32(unsigned off)
{
    return *(volatile uint32_t *)(bar0 + off);
}

static void wr32(unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(bar0 + off) = v;
}

static uint64_t rd64(unsigned off)
{
    return *(volatile uint64_t *)(bar0 + off);
}

static void wr64(unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(bar0 + off) = v;
}

static uint32_t factorial32(uint32_t n)
{
    uint32_t r = 1;

    while (n > 0)
        r *= n--;
    return r;
}

/* Writes n to the factorial register and polls STATUS.computing; false on timeout. */
static bool mmio_factorial(uint32_t n, uint32_t *result)
{
    uint64_t deadline = now_ns() + 1000000000u;

    wr32(EDU_REG_FACTORIAL, n);
    while (rd32(EDU_REG_STATUS) & EDU_STATUS_COMPUTING) {
        if (now_ns() > deadline)
            return false;
        sched_yield();
    }
    *result = rd32(EDU_REG_FACTORIAL);
    return true;
}

/* --- checks ------------------------------------------------------------------------------ */

static void check_config(const char *dir, bool expect_msi)
{
    char path[600];
    uint8_t cfg[256];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/config", dir);
    fd = open(path, O_RDONLY);
    n = fd >= 0 ? pread(fd, cfg, sizeof(cfg), 0) : -1;
    if (fd >= 0)
        close(fd);
    check(n >= 64, "cfg-readable");
    if (n < 64)
        return;
    uint16_t vid = (uint16_t)(cfg[0] | cfg[1] << 8), did = (uint16_t)(cfg[2] | cfg[3] << 8);
    uint16_t cmd = (uint16_t)(cfg[4] | cfg[5] << 8), sts = (uint16_t)(cfg[6] | cfg[7] << 8);
    uint32_t class_code = (uint32_t)(cfg[9] | cfg[10] << 8 | cfg[11] << 16);
    uint16_t svid = (uint16_t)(cfg[0x2c] | cfg[0x2d] << 8);
    uint16_t sdid = (uint16_t)(cfg[0x2e] | cfg[0x2f] << 8);

    check(vid == EDU_VENDOR && did == EDU_DEVICE, "cfg-vendor-device");
    check(cfg[8] == 0x10, "cfg-revision");
    check(class_code == 0x00ff00, "cfg-class-code");
    check(svid == 0x1af4 && sdid == 0x1100, "cfg-subsystem");
    check(cfg[0x3d] == 1, "cfg-interrupt-pin");
    check((cfg[0x0e] & 0x7f) == 0, "cfg-header-type");
    check((cmd & 0x6) == 0x6, "cfg-command-memory-busmaster");
    check((cfg[0x10] & 0x7) == 0, "cfg-bar0-mem32");

    /* Capability list: STATUS bit 4, pointer at 0x34 (PCI Local Bus spec 3.0, 6.7). A
     * bounded walk: a looping or out-of-range list ends it. */
    unsigned msi = 0;
    if ((sts & 0x10) && n == 256) {
        unsigned ptr = cfg[0x34] & 0xfc;
        for (int i = 0; i < 48 && ptr >= 0x40 && ptr < 0xff; i++) {
            if (cfg[ptr] == PCI_CAP_ID_MSI) {
                msi = ptr;
                break;
            }
            ptr = cfg[ptr + 1] & 0xfc;
        }
    }
    check(msi != 0, "cfg-msi-capability");
    if (msi != 0) {
        uint16_t ctl = (uint16_t)(cfg[msi + 2] | cfg[msi + 3] << 8);
        check(ctl & 0x80, "cfg-msi-64bit");
        if (expect_msi)
            check(ctl & 0x1, "cfg-msi-enabled-by-driver");
    }
}

static void check_registers(void)
{
    uint32_t v = rd32(EDU_REG_IDENT);
    check(v == EDU_IDENT, "ident");
    if (v != EDU_IDENT)
        note("got 0x%08x", v);

    static const uint32_t live[] = {0, 0xffffffffu, 0x12345678u, 0xa5a5a5a5u, 0x80000001u};
    bool ok = true;
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
        wr32(EDU_REG_LIVENESS, live[i]);
        v = rd32(EDU_REG_LIVENESS);
        if (v != ~live[i]) {
            note("liveness wrote 0x%08x read 0x%08x", live[i], v);
            ok = false;
        }
    }
    check(ok, "liveness-inverse");

    static const uint32_t fact_n[] = {0, 1, 5, 10, 12};
    for (size_t i = 0; i < sizeof(fact_n) / sizeof(fact_n[0]); i++) {
        uint32_t r = 0;
        bool done = mmio_factorial(fact_n[i], &r);
        check(done && r == factorial32(fact_n[i]), "factorial-%u (%u)", fact_n[i],
              factorial32(fact_n[i]));
        if (!done || r != factorial32(fact_n[i]))
            note("%s, got %u", done ? "done" : "timed out", r);
    }
    static const uint32_t wrap_n[] = {13, 20, 34};
    for (size_t i = 0; i < sizeof(wrap_n) / sizeof(wrap_n[0]); i++) {
        uint32_t r = 0;
        bool done = mmio_factorial(wrap_n[i], &r);
        check(done && r == factorial32(wrap_n[i]), "factorial-%u-wraps (0x%08x)", wrap_n[i],
              factorial32(wrap_n[i]));
        if (!done || r != factorial32(wrap_n[i]))
            note("%s, got 0x%08x", done ? "done" : "timed out", r);
    }

    check(rd32(EDU_REG_STATUS) == 0, "status-idle");
    wr32(EDU_REG_STATUS, EDU_STATUS_IRQFACT);
    v = rd32(EDU_REG_STATUS);
    wr32(EDU_REG_STATUS, 0);
    check(v == EDU_STATUS_IRQFACT && rd32(EDU_REG_STATUS) == 0, "status-irqfact-rw");
    wr32(EDU_REG_STATUS, EDU_STATUS_COMPUTING);
    check(rd32(EDU_REG_STATUS) == 0, "status-computing-ro");

    check(rd32(EDU_REG_IRQ_STATUS) == 0, "irq-status-idle");

    wr64(EDU_REG_DMA_SRC, 0x1122334455667788ull);
    check(rd64(EDU_REG_DMA_SRC) == 0x1122334455667788ull, "dma-src-rw64");
    wr32(EDU_REG_DMA_SRC, 0xdeadbeefu);
    check(rd64(EDU_REG_DMA_SRC) == 0xdeadbeefull, "dma-src-write32-zero-extends");
    wr64(EDU_REG_DMA_DST, 0x0123456789abcdefull);
    check(rd64(EDU_REG_DMA_DST) == 0x0123456789abcdefull && rd32(EDU_REG_DMA_DST) == 0x89abcdefu,
          "dma-dst-rw64-read32");
    wr64(EDU_REG_DMA_COUNT, 0x40);
    check(rd64(EDU_REG_DMA_COUNT) == 0x40, "dma-count-rw");
    wr64(EDU_REG_DMA_SRC, 0);
    wr64(EDU_REG_DMA_DST, 0);
    wr64(EDU_REG_DMA_COUNT, 0);

    static const unsigned unlisted[] = {0x0c, 0x10, 0x40, 0x60, 0x64, 0x84, 0x100, 0x1000, 0xffffc};
    ok = true;
    for (size_t i = 0; i < sizeof(unlisted) / sizeof(unlisted[0]); i++) {
        v = rd32(unlisted[i]);
        if (v != 0xffffffffu) {
            note("offset 0x%x read 0x%08x", unlisted[i], v);
            ok = false;
        }
    }
    check(ok, "unlisted-offsets-all-ones");
    check(rd64(EDU_REG_IDENT) == ~0ull, "read64-below-0x80-all-ones");
}

static void check_sysfs_attrs(const char *dir)
{
    char path[600], buf[64];
    bool ok;

    snprintf(path, sizeof(path), "%s/ident", dir);
    check(read_ulong(path, &ok) == EDU_IDENT && ok, "drv-sysfs-ident");

    snprintf(path, sizeof(path), "%s/liveness", dir);
    ok = write_text(path, "0x0f0f1234") == 0;
    check(ok && read_ulong(path, &ok) == 0xf0f0edcbu && ok, "drv-sysfs-liveness");

    snprintf(path, sizeof(path), "%s/factorial", dir);
    ok = write_text(path, "7") == 0;
    check(ok && read_ulong(path, &ok) == 5040 && ok, "drv-sysfs-factorial");

    snprintf(path, sizeof(path), "%s/irq_mode", dir);
    if (read_text(path, buf, sizeof(buf)) != 0)
        buf[0] = '\0';
    check(strcmp(buf, "msi") == 0, "drv-irq-mode-msi");
    if (strcmp(buf, "msi") != 0)
        note("irq_mode '%s'", buf);
}

static bool pin_to_cpu(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0;
}

static int online_cpus(int *cpus, int max)
{
    int n = 0;

    for (int c = 0; c < MAX_CPUS && n < max; c++) {
        char path[96];
        bool ok;

        if (c == 0) {
            cpus[n++] = 0; /* CPU 0 has no "online" file on x86: it cannot go offline */
            continue;
        }
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", c);
        if (read_ulong(path, &ok) == 1 && ok)
            cpus[n++] = c;
    }
    return n;
}

static void check_interrupts(int fd, const int *cpus, int ncpus)
{
    struct edu_info info;

    if (ioctl(fd, EDU_IOC_INFO, &info) != 0) {
        check(false, "drv-info");
        return;
    }
    for (int i = 0; i < ncpus; i++) {
        uint64_t before;
        struct edu_raise r = {.value = 0x10000u << (cpus[i] % 16), .timeout_ms = 2000};
        int ret;

        if (!pin_to_cpu(cpus[i])) {
            check(false, "irq-raise-ack-cpu%d", cpus[i]);
            continue;
        }
        ioctl(fd, EDU_IOC_INFO, &info);
        before = info.irq_count;
        ret = ioctl(fd, EDU_IOC_RAISE_WAIT, &r);
        check(ret == 0 && (r.seen & r.value) == r.value && r.cpu == (unsigned)cpus[i] &&
                  r.irq_count == before + 1,
              "irq-raise-ack-cpu%d", cpus[i]);
        if (ret != 0 || r.irq_count != before + 1)
            note("ret %d errno %d seen 0x%x count %" PRIu64 " -> %llu", ret, ret ? errno : 0,
                 r.seen, before, (unsigned long long)r.irq_count);
        check(rd32(EDU_REG_IRQ_STATUS) == 0, "irq-status-clear-cpu%d", cpus[i]);
    }
    pin_to_cpu(cpus[0]);

    struct edu_factorial f = {.n = 6, .flags = EDU_FACT_F_IRQ, .timeout_ms = 2000};
    int ret = ioctl(fd, EDU_IOC_FACTORIAL, &f);
    check(ret == 0 && f.result == 720 && (f.seen & EDU_IRQ_FACT), "factorial-irq");
    check(rd32(EDU_REG_STATUS) == 0, "status-clear-after-factorial-irq");
}

/* Per-CPU counts of one IRQ from /proc/interrupts: count[cpu] for each "CPUn" column. */
static bool irq_counts(unsigned irq, unsigned long long *count, int max)
{
    FILE *f = fopen("/proc/interrupts", "r");
    char line[4096];
    int col_cpu[MAX_CPUS], ncols = 0;
    bool found = false;

    if (!f)
        return false;
    memset(count, 0, sizeof(*count) * (size_t)max);
    if (fgets(line, sizeof(line), f)) {
        for (char *p = line; (p = strstr(p, "CPU")) != NULL && ncols < MAX_CPUS; p += 3)
            col_cpu[ncols++] = atoi(p + 3);
    }
    while (!found && fgets(line, sizeof(line), f)) {
        char *p = line, *end;
        unsigned long n = strtoul(p, &end, 10);

        if (end == p || *end != ':' || n != irq)
            continue;
        p = end + 1;
        for (int c = 0; c < ncols; c++) {
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p)
                break;
            if (col_cpu[c] >= 0 && col_cpu[c] < max)
                count[col_cpu[c]] = v;
            p = end;
        }
        found = true;
    }
    fclose(f);
    return found;
}

/* MSI follows the driver's programming to any CPU: steer the vector with the IRQ's affinity
 * (Linux rewrites the MSI address/data in the device's config space), raise, and see the
 * interrupt counted on that CPU. */
static void check_msi_affinity(int fd, const int *cpus, int ncpus)
{
    struct edu_info info;
    char path[96], saved[128];

    if (ioctl(fd, EDU_IOC_INFO, &info) != 0 || info.irq_mode != EDU_IRQ_MODE_MSI)
        return;
    snprintf(path, sizeof(path), "/proc/irq/%u/smp_affinity_list", info.irq);
    if (read_text(path, saved, sizeof(saved)) != 0)
        strcpy(saved, "");
    for (int i = 0; i < ncpus; i++) {
        unsigned long long before[MAX_CPUS], after[MAX_CPUS];
        char want[16];
        struct edu_raise r = {.value = 0x1000u, .timeout_ms = 2000};
        bool ok;

        snprintf(want, sizeof(want), "%d", cpus[i]);
        /* Without interrupt remapping x86 Linux moves an MSI lazily: the new target takes
         * effect from the interrupt after the affinity write, so one raise settles it. */
        ok = write_text(path, want) == 0 && ioctl(fd, EDU_IOC_RAISE_WAIT, &r) == 0 &&
             irq_counts(info.irq, before, MAX_CPUS) && ioctl(fd, EDU_IOC_RAISE_WAIT, &r) == 0 &&
             irq_counts(info.irq, after, MAX_CPUS);
        check(ok && after[cpus[i]] == before[cpus[i]] + 1, "msi-affinity-cpu%d", cpus[i]);
        if (ok && after[cpus[i]] != before[cpus[i]] + 1)
            note("cpu %d count %llu -> %llu", cpus[i], before[cpus[i]], after[cpus[i]]);
    }
    if (saved[0])
        write_text(path, saved);
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(((i * 131u + seed * 17u) & 0xffu) | 1u); /* never 0: the driver
                                                                       poisons with 0 */
}

static void check_dma(int fd)
{
    static uint8_t out[EDU_DMA_BUF_SIZE], in[EDU_DMA_BUF_SIZE];
    static const struct {
        uint32_t off, len, flags;
    } cases[] = {
        {0, EDU_DMA_BUF_SIZE - 1, 0},
        {0, EDU_DMA_BUF_SIZE - 1, EDU_DMA_F_IRQ},
        {1000, 100, EDU_DMA_F_IRQ},
        {4094, 1, 0},
    };
    /* Never a transfer that ends at the buffer's last byte: QEMU 7.2's edu (Debian 12) checks
     * the device-side range with an off-by-one (end < 0x41000 instead of <=) and stops the
     * whole emulator with "DMA range ... out of bounds" on it. */

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct edu_dma d = {.user_buf = (uintptr_t)out,
                            .len = cases[i].len,
                            .dev_offset = cases[i].off,
                            .flags = cases[i].flags,
                            .timeout_ms = 3000};
        bool irq = cases[i].flags & EDU_DMA_F_IRQ;
        int r1, r2;

        fill_pattern(out, cases[i].len, (unsigned)i + 1);
        memset(in, 0, sizeof(in));
        r1 = ioctl(fd, EDU_IOC_DMA_TO_DEVICE, &d);
        bool seen1 = !irq || (d.seen & EDU_IRQ_DMA);
        d.user_buf = (uintptr_t)in;
        r2 = ioctl(fd, EDU_IOC_DMA_FROM_DEVICE, &d);
        bool seen2 = !irq || (d.seen & EDU_IRQ_DMA);
        bool same = memcmp(in, out, cases[i].len) == 0;
        check(r1 == 0 && r2 == 0 && seen1 && seen2 && same && d.dma_addr < (1u << 28),
              "dma-roundtrip-%u-at-0x%x-%s", cases[i].len, cases[i].off, irq ? "irq" : "polled");
        if (!(r1 == 0 && r2 == 0 && same))
            note("to %d from %d same %d dma_addr 0x%llx", r1, r2, same,
                 (unsigned long long)d.dma_addr);
    }

    struct edu_dma bad = {.user_buf = (uintptr_t)out, .len = 16, .dev_offset = 4090};
    errno = 0;
    check(ioctl(fd, EDU_IOC_DMA_TO_DEVICE, &bad) == -1 && errno == EINVAL,
          "drv-dma-out-of-range-refused");
}

/* --- statistics device (Trapvisor only) ------------------------------------------------ */

static const volatile struct tv_stats *stats;
static int stats_edu = -1;

/* Exits of all CPUs so far (each CPU's seq counts its exits). */
static uint64_t stats_exit_seq(void)
{
    uint64_t sum = 0;
    uint32_t n = stats->hdr.ncpus < TV_STATS_MAX_CPUS ? stats->hdr.ncpus : TV_STATS_MAX_CPUS;

    for (uint32_t c = 0; c < n; c++)
        sum += stats->cpu[c].seq;
    return sum;
}

static void find_stats(void)
{
    char dir[512];

    if (!find_pci(TV_STATS_PCI_VENDOR, TV_STATS_PCI_DEVICE, dir, sizeof(dir))) {
        printf("edutest: no Trapvisor statistics device (1234:7476): exit counters not checked\n");
        return;
    }
    stats =
        (const volatile struct tv_stats *)map_resource(dir, 0, TV_STATS_PAGES * 4096, PROT_READ);
    check(stats != NULL && stats->hdr.magic == TV_STATS_MAGIC, "stats-mapped");
    if (!stats || stats->hdr.magic != TV_STATS_MAGIC) {
        stats = NULL;
        return;
    }
    for (unsigned i = 0; i < TV_STATS_DEVICES; i++)
        if (strncmp((const char *)stats->hdr.device_name[i], "edu", TV_STATS_NAME_LEN) == 0)
            stats_edu = (int)i;
    check(stats_edu >= 0, "stats-names-edu");

    /* The statistics pages are memory in the guest's map (only the control page after them
     * is trapped): reading them must cost no exit. Every exit of every CPU bumps its seq, so
     * 4096 loads that exited would move the sum by 4096; other CPUs' own exits meanwhile
     * (timer, idle) stay far below the bound. */
    const volatile uint64_t *q = (const volatile uint64_t *)stats;
    size_t nq = TV_STATS_PAGES * 4096 / sizeof(uint64_t);
    uint64_t seq0 = stats_exit_seq(), sink = 0, seq1;
    for (size_t i = 0; i < 4096; i++)
        sink += q[(i * 67) % nq];
    seq1 = stats_exit_seq();
    check(seq1 - seq0 < 64, "stats-read-without-exits");
    if (seq1 - seq0 >= 64)
        note("4096 loads, %" PRIu64 " exits meanwhile (sum %" PRIx64 ")", seq1 - seq0, sink);
}

static uint64_t stats_edu_mmio(void)
{
    uint64_t sum = 0;
    uint32_t n = stats->hdr.ncpus < TV_STATS_MAX_CPUS ? stats->hdr.ncpus : TV_STATS_MAX_CPUS;

    for (uint32_t c = 0; c < n; c++)
        sum += stats->cpu[c].mmio_device[stats_edu].count;
    return sum;
}

/* Trapvisor accounts an exit when the same CPU next exits (off the timed path), so before
 * reading the counters every CPU takes one more exit that is not an edu access: CPUID, which
 * always exits in VMX non-root operation (SDM Vol. 3C, 26.1.2). */
static void flush_exit_accounting(const int *cpus, int ncpus)
{
    for (int i = 0; i < ncpus; i++) {
        uint32_t a = 0, b, c = 0, d;

        if (!pin_to_cpu(cpus[i]))
            continue;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    }
    pin_to_cpu(cpus[0]);
}

/* --- concurrency ------------------------------------------------------------------------- */

/* Liveness values carry (thread, sequence): 0xC0000000 | thread << 20 | seq. */
#define TAG_MASK          0xC0000000u
#define RAISES_PER_THREAD 10u

struct worker {
    pthread_t thread;
    int cpu, index, fd;
    unsigned ops;      /* MMIO operations to issue */
    unsigned done_ops; /* issued */
    unsigned bad_ident, bad_live, raise_fail, raised;
    uint32_t last_written;
    pthread_barrier_t *start;
};

static int nworkers;

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    unsigned iters = w->ops / 3;
    unsigned stride = iters / RAISES_PER_THREAD ? iters / RAISES_PER_THREAD : 1;

    if (!pin_to_cpu(w->cpu))
        w->raise_fail++;
    pthread_barrier_wait(w->start);
    for (unsigned it = 0; it < iters; it++) {
        /* Three MMIO operations: identification, liveness write, liveness read. */
        if (rd32(EDU_REG_IDENT) != EDU_IDENT)
            w->bad_ident++;
        uint32_t v = TAG_MASK | (uint32_t)w->index << 20 | (it & 0xfffffu);
        wr32(EDU_REG_LIVENESS, v);
        w->last_written = v;
        uint32_t r = ~rd32(EDU_REG_LIVENESS);
        /* Another CPU may have written in between; any value read must still be one that
         * some worker wrote (tag and worker index intact), never a torn or stale-garbage one. */
        if ((r & TAG_MASK) != TAG_MASK || (int)((r >> 20) & 0x3ffu) >= nworkers)
            w->bad_live++;
        w->done_ops += 3;
        /* Now and then an interrupt through the driver: the raise is written from this CPU. */
        if ((it + 1) % stride == 0 && w->raised < RAISES_PER_THREAD) {
            struct edu_raise rs = {.value = 1u << (w->index % 16 + 8), .timeout_ms = 2000};
            if (ioctl(w->fd, EDU_IOC_RAISE_WAIT, &rs) != 0 || (rs.seen & rs.value) != rs.value)
                w->raise_fail++;
            w->raised++;
        }
    }
    while (w->done_ops < w->ops) { /* the remainder: identification reads */
        if (rd32(EDU_REG_IDENT) != EDU_IDENT)
            w->bad_ident++;
        w->done_ops++;
    }
    return NULL;
}

static void check_concurrent(int fd, const int *cpus, int ncpus, unsigned ops)
{
    static struct worker workers[MAX_CPUS];
    pthread_barrier_t start;
    struct edu_info before, after;
    uint64_t stats_before = 0, stats_after = 0, t0, t1;
    unsigned raises = 0;

    nworkers = ncpus;
    pthread_barrier_init(&start, NULL, (unsigned)ncpus);
    ioctl(fd, EDU_IOC_INFO, &before);
    if (stats && stats_edu >= 0) {
        flush_exit_accounting(cpus, ncpus);
        stats_before = stats_edu_mmio();
    }
    t0 = now_ns();
    for (int i = 0; i < ncpus; i++) {
        workers[i] =
            (struct worker){.cpu = cpus[i], .index = i, .fd = fd, .ops = ops, .start = &start};
        pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
    }
    for (int i = 0; i < ncpus; i++)
        pthread_join(workers[i].thread, NULL);
    t1 = now_ns();
    if (stats && stats_edu >= 0) {
        flush_exit_accounting(cpus, ncpus);
        stats_after = stats_edu_mmio();
    }
    ioctl(fd, EDU_IOC_INFO, &after);
    pthread_barrier_destroy(&start);

    unsigned bad_ident = 0, bad_live = 0, raise_fail = 0, total = 0, raised = 0;
    uint32_t live = ~rd32(EDU_REG_LIVENESS);
    bool live_is_a_last_write = false;
    for (int i = 0; i < ncpus; i++) {
        bad_ident += workers[i].bad_ident;
        bad_live += workers[i].bad_live;
        raise_fail += workers[i].raise_fail;
        total += workers[i].done_ops;
        raised += workers[i].raised;
        live_is_a_last_write |= live == workers[i].last_written;
    }
    raises = (unsigned)(after.irq_count - before.irq_count);
    printf("edutest: concurrent: %d cpus x %u mmio ops in %" PRIu64
           " ms, %u raised, %u interrupts handled\n",
           ncpus, ops, (t1 - t0) / 1000000u, raised, raises);
    if (bad_ident || bad_live || raise_fail)
        note("bad ident %u, bad liveness %u, failed raises %u", bad_ident, bad_live, raise_fail);
    check(total == ops * (unsigned)ncpus && bad_ident == 0, "concurrent-ident");
    check(bad_live == 0, "concurrent-liveness-valid");
    check(live_is_a_last_write, "concurrent-liveness-final");
    check(raise_fail == 0 && raised == RAISES_PER_THREAD * (unsigned)ncpus && raises == raised,
          "concurrent-irq-count-exact");
    check(rd32(EDU_REG_IRQ_STATUS) == 0 && rd32(EDU_REG_STATUS) == 0, "concurrent-device-idle");
    if (stats && stats_edu >= 0) {
        /* Each user operation is one exit; each raise is the raise write plus the handler's
         * status read and acknowledge write. Nothing else touches the device meanwhile. */
        uint64_t want = (uint64_t)total + 3u * raises;
        uint64_t got = stats_after - stats_before;
        printf("edutest: stats: %u cpus, flags 0x%x, edu mmio exits %" PRIu64 " -> %" PRIu64 "\n",
               stats->hdr.ncpus, stats->hdr.flags, stats_before, stats_after);
        check(got == want, "concurrent-stats-exact");
        if (got != want)
            note("counted %" PRIu64, got);
    }
}

/* --intx: the driver loaded with msi=0. Interrupts through the legacy line: the same raise,
 * factorial and DMA completions, with MSI off and INTx enabled in config space. */
static void check_intx(int fd, const char *dir, const int *cpus, int ncpus)
{
    char path[600], buf[64];
    uint8_t cfg[256];
    ssize_t n;
    int cfd;

    snprintf(path, sizeof(path), "%s/irq_mode", dir);
    if (read_text(path, buf, sizeof(buf)) != 0)
        buf[0] = '\0';
    check(strcmp(buf, "intx") == 0, "intx-drv-irq-mode");

    snprintf(path, sizeof(path), "%s/config", dir);
    cfd = open(path, O_RDONLY);
    n = cfd >= 0 ? pread(cfd, cfg, sizeof(cfg), 0) : -1;
    if (cfd >= 0)
        close(cfd);
    bool msi_off = false;
    if (n == 256 && (cfg[6] & 0x10)) {
        unsigned ptr = cfg[0x34] & 0xfc;
        for (int i = 0; i < 48 && ptr >= 0x40 && ptr < 0xff; i++) {
            if (cfg[ptr] == PCI_CAP_ID_MSI) {
                msi_off = !(cfg[ptr + 2] & 1);
                break;
            }
            ptr = cfg[ptr + 1] & 0xfc;
        }
    }
    check(msi_off, "intx-cfg-msi-off");
    check(n >= 64 && !(cfg[5] & 0x04), "intx-cfg-interrupt-disable-clear"); /* COMMAND bit 10 */

    for (int i = 0; i < ncpus; i++) {
        struct edu_info info;
        struct edu_raise r = {.value = 0x40u, .timeout_ms = 2000};
        bool ok = pin_to_cpu(cpus[i]) && ioctl(fd, EDU_IOC_INFO, &info) == 0 &&
                  ioctl(fd, EDU_IOC_RAISE_WAIT, &r) == 0;
        check(ok && (r.seen & r.value) && r.irq_count == info.irq_count + 1 &&
                  rd32(EDU_REG_IRQ_STATUS) == 0,
              "intx-raise-ack-cpu%d", cpus[i]);
    }
    pin_to_cpu(cpus[0]);

    struct edu_factorial f = {.n = 8, .flags = EDU_FACT_F_IRQ, .timeout_ms = 2000};
    check(ioctl(fd, EDU_IOC_FACTORIAL, &f) == 0 && f.result == 40320 && (f.seen & EDU_IRQ_FACT),
          "intx-factorial-irq");

    static uint8_t out[256], in[256];
    fill_pattern(out, sizeof(out), 9);
    struct edu_dma d = {.user_buf = (uintptr_t)out,
                        .len = sizeof(out),
                        .dev_offset = 0x200,
                        .flags = EDU_DMA_F_IRQ,
                        .timeout_ms = 3000};
    bool ok = ioctl(fd, EDU_IOC_DMA_TO_DEVICE, &d) == 0 && (d.seen & EDU_IRQ_DMA);
    d.user_buf = (uintptr_t)in;
    ok = ok && ioctl(fd, EDU_IOC_DMA_FROM_DEVICE, &d) == 0 && (d.seen & EDU_IRQ_DMA);
    check(ok && memcmp(in, out, sizeof(out)) == 0, "intx-dma-roundtrip-irq");
}

int main(int argc, char **argv)
{
    const char *devpath = "/dev/edu0";
    unsigned concurrent = 0;
    bool intx = false;
    char dir[512], online[128];
    int cpus[MAX_CPUS], ncpus, fd;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dev") == 0 && i + 1 < argc) {
            devpath = argv[++i];
        } else if (strcmp(argv[i], "--intx") == 0) {
            intx = true;
        } else if (strcmp(argv[i], "--concurrent") == 0 && i + 1 < argc) {
            concurrent = (unsigned)strtoul(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "usage: edutest [--dev /dev/edu0] [--concurrent OPS] [--intx]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    ncpus = online_cpus(cpus, MAX_CPUS);
    if (intx) {
        bool ok = find_pci(EDU_VENDOR, EDU_DEVICE, dir, sizeof(dir));
        fd = ok ? open(devpath, O_RDWR) : -1;
        bar0 = fd >= 0 ? map_resource(dir, 0, EDU_BAR0_SIZE, PROT_READ | PROT_WRITE) : NULL;
        check(bar0 != NULL, "intx-setup");
        if (bar0)
            check_intx(fd, dir, cpus, ncpus);
        goto out;
    }
    if (read_text("/sys/devices/system/cpu/online", online, sizeof(online)) != 0)
        strcpy(online, "?");
    printf("linux: online cpus %s\n", online);

    bool found = find_pci(EDU_VENDOR, EDU_DEVICE, dir, sizeof(dir));
    check(found, "found-edu");
    if (!found)
        goto out;
    printf("edutest: edu at %s\n", strrchr(dir, '/') + 1);

    fd = open(devpath, O_RDWR);
    check(fd >= 0, "driver-open");
    struct edu_info info = {0};
    if (fd >= 0 && ioctl(fd, EDU_IOC_INFO, &info) == 0)
        printf("edutest: driver: irq %u %s, bar0 0x%llx size 0x%llx\n", info.irq,
               info.irq_mode == EDU_IRQ_MODE_MSI ? "msi" : "intx",
               (unsigned long long)info.bar0_start, (unsigned long long)info.bar0_len);

    check_config(dir, info.irq_mode == EDU_IRQ_MODE_MSI);
    bar0 = map_resource(dir, 0, EDU_BAR0_SIZE, PROT_READ | PROT_WRITE);
    check(bar0 != NULL, "bar0-mmap-resource0");
    if (!bar0)
        goto out;
    check_registers();
    if (fd >= 0) {
        check_sysfs_attrs(dir);
        check_interrupts(fd, cpus, ncpus);
        check_msi_affinity(fd, cpus, ncpus);
        check_dma(fd);
        find_stats();
        if (concurrent)
            check_concurrent(fd, cpus, ncpus, concurrent);
    }
out:
    printf("edutest: %u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
