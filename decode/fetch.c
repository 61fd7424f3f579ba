/* Instruction fetch at CS.base + RIP (decode/fetch.h). */
#include "decode/fetch.h"

enum cpu_mode cpu_mode_of(uint64_t cr0, uint64_t efer, uint64_t rflags, uint32_t cs_ar)
{
    /* SDM Vol. 3A, 2.2: real mode until CR0.PE; IA-32e mode when EFER.LMA, 64-bit for a
     * CS with L = 1, compatibility otherwise (RFLAGS.VM cannot be set in IA-32e mode);
     * virtual-8086 mode is protected mode with RFLAGS.VM. CS.D picks 16/32 (Vol. 1, 3.6). */
    if (!(cr0 & CR0_PE))
        return CPU_MODE_REAL;
    if (efer & EFER_LMA) {
        if (cs_ar & SEG_AR_L)
            return CPU_MODE_LONG64;
        return (cs_ar & SEG_AR_D) ? CPU_MODE_COMPAT32 : CPU_MODE_COMPAT16;
    }
    if (rflags & RFLAGS_VM_BIT)
        return CPU_MODE_VM86;
    return (cs_ar & SEG_AR_D) ? CPU_MODE_PROT32 : CPU_MODE_PROT16;
}

unsigned cpu_mode_operand_bits(enum cpu_mode mode)
{
    switch (mode) {
    case CPU_MODE_PROT32:
    case CPU_MODE_COMPAT32:
    case CPU_MODE_LONG64:
        return 32;
    default:
        return 16;
    }
}

unsigned cpu_mode_address_bits(enum cpu_mode mode)
{
    switch (mode) {
    case CPU_MODE_LONG64:
        return 64;
    case CPU_MODE_PROT32:
    case CPU_MODE_COMPAT32:
        return 32;
    default:
        return 16;
    }
}

static enum fetch_status stop(struct fetch_result *out, enum fetch_fault_kind kind)
{
    out->status = FETCH_TRUNCATED;
    out->fault = kind;
    return FETCH_TRUNCATED;
}

enum fetch_status fetch_insn(const struct guest_paging *pg, const struct guest_mem *mem,
                             const struct fetch_cs *cs, uint64_t rip, struct fetch_result *out)
{
    *out = (struct fetch_result){0};
    out->mode = cpu_mode_of(pg->cr0, pg->efer, pg->rflags, cs->ar);
    const bool long64 = out->mode == CPU_MODE_LONG64;

    while (out->len < FETCH_MAX_BYTES) {
        uint64_t want = FETCH_MAX_BYTES - out->len;
        uint64_t la;
        if (long64) {
            /* 64-bit mode: CS base is 0 and no limit is checked (SDM Vol. 3A, 3.4.4, 5.3.1);
             * canonical form is the walk's check. */
            la = rip + out->len;
        } else {
            /* EIP wraps at 32 bits; every byte's offset must be within the CS limit,
             * else #GP(0) (SDM Vol. 3A, 5.3). The linear address is 32 bits, so it runs on
             * contiguously when the offset wraps from FFFFFFFF to 0. */
            const uint64_t off = (rip + out->len) & 0xFFFFFFFFu;
            la = (cs->base + off) & 0xFFFFFFFFu;
            if (off > cs->limit) {
                out->walk.status = WALK_GP;
                out->walk.fault_addr = la;
                return stop(out, FETCH_FAULT_GP);
            }
            if (want > (uint64_t)cs->limit - off + 1)
                want = (uint64_t)cs->limit - off + 1;
        }
        if (walk_translate(pg, mem, la, WALK_FETCH, 0, &out->walk) != WALK_OK) {
            switch (out->walk.status) {
            case WALK_PF:
                return stop(out, FETCH_FAULT_PF);
            case WALK_BAD_GPA:
                return stop(out, FETCH_FAULT_BAD_GPA);
            default:
                return stop(out, FETCH_FAULT_GP);
            }
        }
        /* Up to the end of this 4 KiB frame; the next one is translated on its own. The
         * walk's pages are 4 KiB-aligned in both linear and physical space, so this never
         * runs past the page; and guest RAM and MMIO meet at 4 KiB boundaries, so bytes
         * before an unreadable frame still arrive (paging off is one 4 GiB "page"). */
        if (want > 4096 - (out->walk.gpa & 0xFFF))
            want = 4096 - (out->walk.gpa & 0xFFF);
        if (!mem->read_gpa(mem->ctx, out->walk.gpa, out->bytes + out->len, (size_t)want)) {
            out->walk.status = WALK_BAD_GPA;
            out->walk.bad_gpa = out->walk.gpa;
            return stop(out, FETCH_FAULT_BAD_GPA);
        }
        out->len += (unsigned)want;
    }
    out->status = FETCH_OK;
    out->fault = FETCH_FAULT_NONE;
    out->walk = (struct walk_result){0};
    out->walk.status = WALK_OK;
    return FETCH_OK;
}
