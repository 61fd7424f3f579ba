# ept/: the guest-physical map (EPT tables, MTRR types, the GPA -> owner table).
# Pure freestanding C: the hypervisor links $(EPT_SRCS); tests/ept/ builds them for the host.
EPT_SRCS := ept/ept.c ept/mtrr.c ept/region.c ept/describe.c

# Build the freestanding objects with `make` too, so a host-only construct is caught early.
ALL_TARGETS += $(call efi_objs,$(EPT_SRCS))
