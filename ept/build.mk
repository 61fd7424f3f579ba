# ept/: the guest-physical map (EPT tables, MTRR types, the GPA -> owner table).
# Pure freestanding C: the hypervisor links $(EPT_SRCS); tests/ept/ builds them for the host.
EPT_SRCS :=
