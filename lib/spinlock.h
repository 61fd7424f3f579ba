/* A test-and-test-and-set spinlock for short critical sections shared between CPUs
 * (log output, the CF8/CFC address latch, a device's state). Header-only. */
#ifndef TRAPVISOR_LIB_SPINLOCK_H
#define TRAPVISOR_LIB_SPINLOCK_H

struct spinlock {
    volatile int locked;
};

#define SPINLOCK_INIT                                                                              \
    {                                                                                              \
        0                                                                                          \
    }

static inline void spin_lock(struct spinlock *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            __builtin_ia32_pause();
    }
}

static inline int spin_trylock(struct spinlock *l)
{
    return !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#endif
