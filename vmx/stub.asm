; VMX entry/exit stubs and host exception entry points.
;
; vmx_launch_here: VMLAUNCH with the guest continuing right after it, on the same stack,
;   so the caller gets 0 back as a guest (SDM Vol. 3C, 27.8 "Loading Guest State": RSP, RIP
;   and RFLAGS come from the VMCS, the other GPRs are left as they are).
; vmx_exit_stub: HOST_RIP; the guest GPRs go into vcpu->gpr[] (ModRM order), a handler in
;   vmx/exit.c runs, then VMRESUME (details below).
; vmx_host_isr_table: 32 host exception entry points, 16 bytes apart.

bits 64
default rel
section .text

extern vmx_exit_dispatch
extern vmx_resume_failed
extern vmx_host_exception

VMCS_GUEST_RSP    equ 0x681C
VMCS_GUEST_RIP    equ 0x681E
VMCS_GUEST_RFLAGS equ 0x6820

global vmx_launch_here
vmx_launch_here:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    pushfq
    pop rax
    mov rdx, VMCS_GUEST_RFLAGS
    vmwrite rdx, rax
    mov rdx, VMCS_GUEST_RSP
    vmwrite rdx, rsp
    lea rax, [.as_guest]
    mov rdx, VMCS_GUEST_RIP
    vmwrite rdx, rax
    vmlaunch
    ; Still here: VMfailInvalid (CF) -> -1, VMfailValid (ZF) -> -2.
    mov eax, -2
    mov edx, -1
    cmovc eax, edx
    jmp .out
.as_guest:
    xor eax, eax
.out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

; The exit stub (HOST_RIP). HOST_GS_BASE is the vcpu (vmx/vmx.c), so the guest's RAX and RDX
; go straight into vcpu->gpr before anything else; HOST_RSP points at a slot holding the
; vcpu pointer too. VM exit leaves RFLAGS = 2 (SDM Vol. 3C, 28.5.3): DF is clear for C.
;
; Routes (vmx/exit.c):
; - CPUID, the most frequent exit, runs here without a call when nothing is unusual: no STI or
;   MOV-SS blocking, RFLAGS.TF clear, the EPT generation current, and a leaf the hypervisor
;   does not change (not 1, not 0x40000000-0x4FFFFFFF). It then does exactly what
;   vmx_exit_cpuid does in that case: RIP += exit instruction length, the host CPUID's answer
;   into the guest's EAX/EBX/ECX/EDX. Every check comes before the first change, so when one
;   fails the exit goes to vmx_exit_cpuid from the start.
; - The "light" exits (vmx_light_exits, and CPUID when it is unusual) have handlers that read
;   and write only RAX, RBX, RCX and RDX of the guest and call only C, which keeps RBP and
;   R12-R15 intact (SysV ABI): ten GPRs are saved and restored for them.
; - Every other exit saves and restores all fifteen (RSP stays in the VMCS:
;   vmx_load_guest_rsp); EPT violations (the MMIO path) go to the hook straight from here
;   (.ept_violation below).
;
; Accounting (TRAPVISOR_ACCOUNTING, docs/stats.md): the window runs from the RDTSC right
; after the RAX/RDX saves to the RDTSC after the last register restore that the record does
; not need; the record (stats_record.inc) follows it, then RCX, R8, RAX and RDX are loaded
; and VMRESUME. Without accounting there is no RDTSC and no record.

%ifndef TRAPVISOR_ACCOUNTING
%define TRAPVISOR_ACCOUNTING 1
%endif

%include "vmx/stats_record.inc"

extern vmx_exit_cpuid
extern vmx_exit_light
extern vmx_light_exits
extern vmx_exit_ept_violation
extern vmx_ept_violation_events
extern vmx_ept_violation_unhandled
extern vmx_ept_violation_finish
extern vmx_hooks
extern vmx

VMCS_EXIT_REASON      equ 0x4402
VMCS_EXIT_INSTR_LEN   equ 0x440C
VMCS_INTERRUPTIBILITY equ 0x4824
EXIT_CPUID            equ 10
EXIT_EPT_VIOLATION    equ 48
VCPU_EXIT_TSC         equ 144
VCPU_RESUME_TSC       equ 152
VCPU_REC              equ 160   ; last_reason: struct stats_record_ctx (vmx/vmx.h)
VCPU_EPT_GENERATION   equ 184
VCPU_FINISH_GENERATION equ 440
VMX_EPT_GENERATION    equ 864   ; offsetof(struct vmx_global, ept_generation)
HOOKS_EPT_VIOLATION   equ 0     ; struct vmx_hooks (vmx/exit.h)
HOOKS_EPT_LOADS_RSP   equ 8
HOOKS_EPT_LIGHT       equ 16
VMCS_IDT_VECTORING    equ 0x4408
VMCS_EXIT_QUALIFICATION equ 0x6400
VMCS_GUEST_PHYS_ADDR  equ 0x2400
EPT_QUAL_NMI_UNBLOCKED equ 1 << 12

%define G(r) [gs:8*(r)]         ; vcpu->gpr[r]

; Guest GPRs in vcpu->gpr beyond RAX and RDX (saved first by every route): the light set, which
; every route but CPUID saves (CPUID saves R8 at once and the rest only when it goes to C, by
; hand since R8 is its scratch by then), and the set the C ABI preserves (RBP, R12-R15),
; which only the routes whose handlers may read or write any guest GPR save. RCX and R8 are
; reloaded by EXIT_TAIL (the record uses them), so the restores leave them out.
%macro SAVE_LIGHT_GPRS 0
    mov G(1), rcx
    mov G(3), rbx
    mov G(6), rsi
    mov G(7), rdi
    mov G(8), r8
    mov G(9), r9
    mov G(10), r10
    mov G(11), r11
%endmacro

%macro RESTORE_LIGHT_GPRS 0
    mov rbx, G(3)
    mov rsi, G(6)
    mov rdi, G(7)
    mov r9, G(9)
    mov r10, G(10)
    mov r11, G(11)
%endmacro

%macro SAVE_CALLEE_GPRS 0
    mov G(5), rbp
    mov G(12), r12
    mov G(13), r13
    mov G(14), r14
    mov G(15), r15
%endmacro

%macro RESTORE_CALLEE_GPRS 0
    mov rbp, G(5)
    mov r12, G(12)
    mov r13, G(13)
    mov r14, G(14)
    mov r15, G(15)
%endmacro

; The end of every route: the window's last RDTSC, the record, the last four loads, VMRESUME.
%macro EXIT_TAIL 1
%if TRAPVISOR_ACCOUNTING
    ; Bochs (whose TSC counts instructions) updates its clock only where a trace ends: without
    ; this taken branch the RDTSC would read the count at the start of its straight-line run
    ; and leave that run out of the window (lib/tsc.h). One instruction, inside the window.
    jmp %%window_end
%%window_end:
    rdtsc                       ; window end
    shl rdx, 32
    or rax, rdx
    mov [gs:VCPU_RESUME_TSC], rax
    sub rax, [gs:VCPU_EXIT_TSC]
    STATS_RECORD_HOT gs:VCPU_REC, %1
%endif
    mov rcx, G(1)
    mov r8, G(8)
    mov rax, G(0)
    mov rdx, G(2)
    vmresume
    mov rdi, [rsp]
    call vmx_resume_failed wrt ..plt
%%hang:
    cli
    hlt
    jmp %%hang
%if TRAPVISOR_ACCOUNTING
    STATS_RECORD_COLD gs:VCPU_REC, %1
%endif
%endmacro

global vmx_exit_stub
vmx_exit_stub:
    mov G(0), rax
    mov G(2), rdx
%if TRAPVISOR_ACCOUNTING
    rdtsc                       ; window start
    mov [gs:VCPU_EXIT_TSC], eax
    mov [gs:VCPU_EXIT_TSC + 4], edx
%endif
    mov eax, VMCS_EXIT_REASON
    vmread rax, rax
    mov [gs:VCPU_REC], eax
    cmp eax, EXIT_CPUID
    jne .not_cpuid
    ; CPUID: guest RBX, RCX, RSI, RDI and R9-R15 are still live in their registers.
    mov G(8), r8
    mov r8d, VMCS_INTERRUPTIBILITY
    vmread rdx, r8
    test dl, 3                  ; blocking by STI / MOV SS (SDM Vol. 3C, Table 25-3)
    jnz .cpuid_in_c
    mov r8d, VMCS_GUEST_RFLAGS
    vmread rdx, r8
    test dh, 1                  ; RFLAGS.TF (bit 8): a single-step trap to raise
    jnz .cpuid_in_c
    mov rdx, [gs:VCPU_EPT_GENERATION]
    cmp rdx, [rel vmx + VMX_EPT_GENERATION]
    jne .cpuid_in_c
    mov eax, G(0)               ; the leaf
    lea edx, [rax - 0x40000000]
    cmp edx, 0x0FFFFFFF
    jbe .cpuid_in_c             ; hypervisor leaves
    cmp eax, 1
    je .cpuid_in_c              ; leaf 1 is edited
    mov r8d, VMCS_GUEST_RIP
    vmread rdx, r8
    mov r8d, VMCS_EXIT_INSTR_LEN
    vmread r8, r8
    add rdx, r8
    mov r8d, VMCS_GUEST_RIP
    vmwrite r8, rdx
    cpuid                       ; EAX = leaf, ECX = the guest's subleaf; RBX is the answer
    mov G(0), rax
    mov G(1), rcx
    mov G(2), rdx
    EXIT_TAIL cpuid

.cpuid_in_c:
    mov G(1), rcx
    mov G(3), rbx
    mov G(6), rsi
    mov G(7), rdi
    mov G(9), r9
    mov G(10), r10
    mov G(11), r11
    mov rdi, [rsp]
    call vmx_exit_cpuid wrt ..plt
    jmp .resume_light

.not_cpuid:
    cmp eax, EXIT_EPT_VIOLATION
    je .ept_violation
    SAVE_LIGHT_GPRS
    mov rdi, [rsp]
    mov esi, eax
    cmp eax, 63
    ja .full
    mov rdx, [rel vmx_light_exits]
    bt rdx, rax
    jnc .full
    call vmx_exit_light wrt ..plt
.resume_light:
    RESTORE_LIGHT_GPRS
    EXIT_TAIL light

; EPT violations: vmx_hooks.ept_violation reads and writes any guest GPR in vcpu->gpr, so all
; fifteen are saved for it; when it loads RSP itself it is called from here with (v, gpa,
; qualification), as vmx_exit_ept_violation (vmx/exit.c) would call it, and this route does that
; function's work around it: each check below is one field test whose rare outcome goes to the C
; that vmx_exit_ept_violation runs for it. Before it, vmx_hooks.ept_violation_light gets the
; exit with the light set alone (RBP and R12-R15 stay in their registers: C keeps them); only
; when it declines are the other five saved and the full hook called (or, when that hook does
; not load RSP itself, vmx_exit_ept_violation).
.ept_violation:
    SAVE_LIGHT_GPRS
    mov rdi, [rsp]
    ; An exit during event delivery (SDM Vol. 3C, 28.2.4: IDT-vectoring valid, bit 31):
    ; vmx_ept_violation_events. An IRET that unblocked NMIs (qualification bit 12, 28.2.3) goes
    ; there too, from .ept_full: the light hook declines it (vmx/exit.h), so the light route
    ; needs no test of its own.
    mov eax, VMCS_IDT_VECTORING
    vmread rax, rax
    test eax, eax
    js .ept_events
    mov edx, VMCS_EXIT_QUALIFICATION
    vmread rdx, rdx
    mov esi, VMCS_GUEST_PHYS_ADDR
    vmread rsi, rsi
    ; v->last_device is already -1: it is at every exit until a handler names a device (the
    ; record sets it back after counting; vmx/vmx.c and boot/ start it at -1).
    call [rel vmx_hooks + HOOKS_EPT_LIGHT]
    test al, al
    jz .ept_full
    ; The EPT changed meanwhile: vmx_ept_violation_finish catches up as the C routes'
    ; exit_finish does (the light hook never loads RSP, so there is nothing to write back).
    mov rax, [gs:VCPU_FINISH_GENERATION]
    cmp rax, [rel vmx + VMX_EPT_GENERATION]
    jne .ept_light_finish_in_c
.ept_light_resume:
    RESTORE_LIGHT_GPRS
    EXIT_TAIL ept

.ept_light_finish_in_c:
    mov rdi, [rsp]
    call vmx_ept_violation_finish wrt ..plt
    jmp .ept_light_resume

; The light hook declined (having changed nothing): the same exit, all fifteen saved.
.ept_full:
    SAVE_CALLEE_GPRS
    mov rdi, [rsp]
    cmp byte [rel vmx_hooks + HOOKS_EPT_LOADS_RSP], 0
    je .ept_in_c
    mov edx, VMCS_EXIT_QUALIFICATION
    vmread rdx, rdx
    test edx, EPT_QUAL_NMI_UNBLOCKED
    jnz .ept_events_saved
.ept_hook:
    mov esi, VMCS_GUEST_PHYS_ADDR
    vmread rsi, rsi
    call [rel vmx_hooks + HOOKS_EPT_VIOLATION]
    test al, al
    jz .ept_unhandled
    ; The hook loaded RSP (rsp_valid), or the EPT changed: vmx_ept_violation_finish writes RSP
    ; back and catches up exactly as the C routes' rsp_write_back and exit_finish do. One
    ; compare tells: finish_generation is the flushed generation, or never one while RSP is
    ; loaded (struct vcpu, vmx/vmx.h).
    mov rax, [gs:VCPU_FINISH_GENERATION]
    cmp rax, [rel vmx + VMX_EPT_GENERATION]
    jne .ept_finish_in_c
.ept_resume:
    RESTORE_CALLEE_GPRS
    jmp .ept_light_resume

; Event re-injection or NMI blocking first (vmx_exit_ept_violation does both itself).
.ept_events:
    SAVE_CALLEE_GPRS
    cmp byte [rel vmx_hooks + HOOKS_EPT_LOADS_RSP], 0
    je .ept_in_c
.ept_events_saved:
    call vmx_ept_violation_events wrt ..plt
    mov rdi, [rsp]
    mov edx, VMCS_EXIT_QUALIFICATION
    vmread rdx, rdx
    jmp .ept_hook
.ept_unhandled:
    mov rdi, [rsp]
    call vmx_ept_violation_unhandled wrt ..plt
.ept_finish_in_c:
    mov rdi, [rsp]
    call vmx_ept_violation_finish wrt ..plt
    jmp .ept_resume
.ept_in_c:
    mov rdi, [rsp]
    call vmx_exit_ept_violation wrt ..plt
    jmp .ept_resume

.full:
    SAVE_CALLEE_GPRS
    call vmx_exit_dispatch wrt ..plt
    RESTORE_CALLEE_GPRS
    jmp .resume_light

; Host exceptions: push a dummy error code where the CPU pushes none (SDM Vol. 3A, 6.3.1,
; Table 6-1), then the vector, then all GPRs; vmx_host_exception(frame) prints and stops.
%macro ISR 1
    align 16
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17) || (%1 == 21) || (%1 == 29) || (%1 == 30)
    push qword %1
    jmp isr_common
%else
    push qword 0
    push qword %1
    jmp isr_common
%endif
%endmacro

global vmx_host_isr_table
    align 16
vmx_host_isr_table:
%assign i 0
%rep 32
    ISR i
%assign i i+1
%endrep

isr_common:
    push rax
    push rcx
    push rdx
    push rbx
    push rbp
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    and rsp, -16
    cld
    call vmx_host_exception wrt ..plt
.stop:
    cli
    hlt
    jmp .stop
section .note.GNU-stack noalloc noexec nowrite progbits
