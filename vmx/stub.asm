; VMX entry/exit stubs and host exception entry points.
;
; vmx_launch_here: VMLAUNCH with the guest continuing right after it, on the same stack,
;   so the caller gets 0 back as a guest (SDM Vol. 3C, 27.8 "Loading Guest State": RSP, RIP
;   and RFLAGS come from the VMCS, the other GPRs are left as they are).
; vmx_exit_stub: HOST_RIP. HOST_RSP points at a slot holding the vcpu pointer; the guest
;   GPRs go into vcpu->gpr[0..15] (ModRM order), vmx_exit_dispatch runs, then VMRESUME.
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

global vmx_exit_stub
vmx_exit_stub:
    push rax                    ; [rsp+8] = vcpu pointer
    mov rax, [rsp + 8]
    mov [rax + 8*1], rcx
    mov [rax + 8*2], rdx
    mov [rax + 8*3], rbx
    mov [rax + 8*5], rbp
    mov [rax + 8*6], rsi
    mov [rax + 8*7], rdi
    mov [rax + 8*8], r8
    mov [rax + 8*9], r9
    mov [rax + 8*10], r10
    mov [rax + 8*11], r11
    mov [rax + 8*12], r12
    mov [rax + 8*13], r13
    mov [rax + 8*14], r14
    mov [rax + 8*15], r15
    pop qword [rax]             ; guest RAX; RSP is back at HOST_RSP (16-byte aligned)
    mov rcx, rax
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov [rcx + 144], rax        ; vcpu->exit_tsc
    mov rdi, rcx
    cld
    call vmx_exit_dispatch wrt ..plt
    mov rcx, [rsp]
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov [rcx + 152], rax        ; vcpu->resume_tsc
    mov rax, rcx
    mov rcx, [rax + 8*1]
    mov rdx, [rax + 8*2]
    mov rbx, [rax + 8*3]
    mov rbp, [rax + 8*5]
    mov rsi, [rax + 8*6]
    mov rdi, [rax + 8*7]
    mov r8,  [rax + 8*8]
    mov r9,  [rax + 8*9]
    mov r10, [rax + 8*10]
    mov r11, [rax + 8*11]
    mov r12, [rax + 8*12]
    mov r13, [rax + 8*13]
    mov r14, [rax + 8*14]
    mov r15, [rax + 8*15]
    mov rax, [rax]
    vmresume
    mov rdi, [rsp]
    call vmx_resume_failed wrt ..plt
.hang:
    cli
    hlt
    jmp .hang

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
