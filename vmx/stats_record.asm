; void stats_record_fast(struct stats_record_ctx *ctx, uint64_t ticks) (vmx/stats.h): the
; exit stub's record as a SysV function, for the host tests and for
; stats_measure_overhead(). Built for the hypervisor and for the host.
bits 64
default rel
section .text

%include "vmx/stats_record.inc"

global stats_record_fast
stats_record_fast:
    mov rax, rsi
    STATS_RECORD_HOT rdi, fast
    ret
    STATS_RECORD_COLD rdi, fast

section .note.GNU-stack noalloc noexec nowrite progbits
