# decode/walk.mk (included by decode/build.mk): guest page walk, instruction fetch and the
# ALU/flags core. Pure C, linked into the hypervisor via DECODE_SRCS and into host tests.
WALK_SRCS := decode/walk.c decode/fetch.c decode/alu.c
# Build the freestanding objects with `make`, so code that only the hypervisor links is
# still proven to compile without libc.
ALL_TARGETS += $(call efi_objs,$(WALK_SRCS))
