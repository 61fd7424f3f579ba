/* Compiler half of the decoder corpus: device-register accesses of many shapes, as drivers
 * write them. tests/decode/gen_cc_corpus.sh compiles this file with gcc and clang at several
 * -O levels and for 64/32/16-bit code, disassembles it, and keeps every instruction with a
 * memory operand that is in the decoder's set. Uses no headers, so it builds for -m32/-m16
 * without multilib. */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;

struct regs {
    u32 ctrl;
    u8 status;
    u8 pad[3];
    u16 irq;
    u16 mask;
    u64 dma;
    u32 fifo[16];
    s8 sb;
    s16 sw;
    s32 sd;
};

/* The sink keeps results live without being device memory itself. */
u64 sink;

#define RD(T, name)                                                                                \
    T rd_##name(volatile T *p, long i)                                                             \
    {                                                                                              \
        return p[0] + p[i] + p[3];                                                                 \
    }                                                                                              \
    void wr_##name(volatile T *p, T v, long i)                                                     \
    {                                                                                              \
        p[0] = v;                                                                                  \
        p[i] = 5;                                                                                  \
        p[7] = (T)0x5a;                                                                            \
    }                                                                                              \
    void add_##name(volatile T *p, T v)                                                            \
    {                                                                                              \
        *p += v;                                                                                   \
        p[1] += 3;                                                                                 \
        p[2] -= 0x70;                                                                              \
    }                                                                                              \
    void bits_##name(volatile T *p, T v)                                                           \
    {                                                                                              \
        *p |= v;                                                                                   \
        p[1] &= (T)~0x10;                                                                          \
        p[2] ^= 0x81;                                                                              \
        *p |= 1;                                                                                   \
    }                                                                                              \
    int cmp_##name(volatile T *p, T v)                                                             \
    {                                                                                              \
        return *p == v || p[1] > 0x10 || (p[2] & 4);                                               \
    }                                                                                              \
    void inc_##name(volatile T *p)                                                                 \
    {                                                                                              \
        (*p)++;                                                                                    \
        p[4]--;                                                                                    \
        p[5] = (T)-p[5];                                                                           \
        p[6] = (T)~p[6];                                                                           \
    }                                                                                              \
    T xchg_##name(volatile T *p, T v)                                                              \
    {                                                                                              \
        return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);                                        \
    }                                                                                              \
    T xadd_##name(volatile T *p, T v)                                                              \
    {                                                                                              \
        return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);                                         \
    }                                                                                              \
    void lor_##name(volatile T *p, T v)                                                            \
    {                                                                                              \
        __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);                                                 \
    }                                                                                              \
    void land_##name(volatile T *p, T v)                                                           \
    {                                                                                              \
        __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);                                                \
    }                                                                                              \
    void lsub_##name(volatile T *p)                                                                \
    {                                                                                              \
        __atomic_fetch_sub(p, 1, __ATOMIC_SEQ_CST);                                                \
    }                                                                                              \
    int cas_##name(volatile T *p, T o, T n)                                                        \
    {                                                                                              \
        return __atomic_compare_exchange_n(p, &o, n, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);       \
    }                                                                                              \
    void copy_##name(volatile T *d, volatile T *s, int n)                                          \
    {                                                                                              \
        for (int k = 0; k < n; k++)                                                                \
            d[k] = s[k];                                                                           \
    }

RD(u8, u8)
RD(u16, u16)
RD(u32, u32)
RD(u64, u64)
RD(s8, s8)
RD(s16, s16)
RD(s32, s32)

u32 widen(volatile u8 *b, volatile u16 *w, volatile s8 *sb, volatile s16 *sw, volatile s32 *sd)
{
    u64 r = *b;
    r += *w;
    r += (u64)(long long)*sb;
    r += (u64)(long long)*sw;
    r += (u64)(long long)*sd;
    sink = r;
    return (u32)(*b + *w);
}

void fields(volatile struct regs *r, u32 v)
{
    r->ctrl = v;
    r->status |= 0x80;
    r->irq = (u16)(r->irq + 1);
    r->mask &= 0xff00;
    r->dma = ((u64)v << 12) | r->dma;
    for (int i = 0; i < 16; i++)
        r->fifo[i] = v + (u32)i;
    r->sb = (s8)(r->sb - 1);
    r->sw = (s16)(r->sw + r->sd);
    if (r->status & 0x40)
        r->ctrl ^= 1;
}

static volatile u32 global_reg;
static volatile u8 global_byte;

u32 globals(u32 v)
{
    global_reg = v;
    global_byte = (u8)(global_byte + 1);
    return global_reg + global_byte;
}

int test_bit(volatile u32 *p, int bit)
{
    return (*p >> (bit & 31)) & 1;
}

void set_bit(volatile u64 *p, int bit)
{
    __atomic_fetch_or(p, 1ull << (bit & 63), __ATOMIC_SEQ_CST);
}

u32 poll(volatile u32 *status, u32 mask, int tries)
{
    while (tries-- > 0 && !(*status & mask))
        ;
    return *status;
}

void mask_cmp(volatile u16 *p, volatile u8 *q)
{
    if (*p == 0x1234 && *q != 7)
        *p = 0;
    if ((*q & 0x3) == 0)
        *q = 1;
}
