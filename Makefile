# Trapvisor top-level Makefile.
#
# Each folder contributes a fragment (`<folder>/build.mk`, `tools/<tool>/build.mk`,
# `tests/<area>/build.mk`) that appends to the target lists below, so no two parts of the
# tree edit the same rules. Everything lands in $(BUILD) (out of tree).
#
# Two kinds of objects:
#   $(BUILD)/host/<path>.o  ordinary C for host tools and tests (libc, cmocka, sanitizers)
#   $(BUILD)/efi/<path>.o   freestanding C/nasm for code that runs in UEFI or VMX root
# Pure code (lib/, decode/, pci/, devices/, ept/) is compiled both ways from one source.

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

BUILD   ?= build
HOSTCC  ?= gcc
CC      ?= gcc
LD      ?= ld
NASM    ?= nasm
OBJCOPY ?= objcopy

WARN := -Wall -Wextra -Werror

# Host code: tools and tests. Sanitizers on for tests; tools link without them.
HOST_CFLAGS  := -std=c11 $(WARN) -O2 -g -I. -D_POSIX_C_SOURCE=200809L -MMD -MP
TEST_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
HOST_LDFLAGS :=

# Freestanding code for UEFI / VMX root (RIGS.md, "Building a UEFI application").
EFI_INC     := /usr/include/efi
EFI_LIBDIR  := /usr/lib
EFI_LDS     := $(EFI_LIBDIR)/elf_x86_64_efi.lds
EFI_CRT0    := $(EFI_LIBDIR)/crt0-efi-x86_64.o
FREE_CFLAGS := -std=c11 $(WARN) -O2 -g -I. -ffreestanding -mno-red-zone -fno-stack-protector \
               -fno-strict-aliasing -fpic -fshort-wchar -maccumulate-outgoing-args \
               -mno-mmx -mno-sse -mno-sse2 -mno-avx -fno-asynchronous-unwind-tables \
               -I$(EFI_INC) -I$(EFI_INC)/x86_64 -DGNU_EFI_USE_MS_ABI -DTRAPVISOR_FREESTANDING -MMD -MP
# `make ACCOUNTING=0` builds the hypervisor without the exit accounting (vmx/stats.h), so
# the accounting's cost can be shown; use a separate BUILD= for such a build.
ACCOUNTING ?= 1
FREE_CFLAGS += -DTRAPVISOR_ACCOUNTING=$(ACCOUNTING)
# `make MMIO_CACHES=0` builds the MMIO fast path without its per-CPU caches (boot/mmio.c), for
# make bench-exits' comparison; also a separate BUILD=.
MMIO_CACHES ?= 1
FREE_CFLAGS += -DTRAPVISOR_MMIO_CACHES=$(MMIO_CACHES)
# Link-time optimisation: the exit paths cross folders (vmx -> boot -> ept/decode/pci/devices)
# and each call boundary costs instructions on every exit; LTO inlines across them (make
# bench-exits: about 120 instructions per MMIO exit). The link goes through the compiler driver
# so the LTO plugin runs; the flags are gnu-efi's (RIGS.md). Objects keep machine code too
# (-ffat-lto-objects) so `objdump -d` of one object still shows its code. The image is a shared
# object (-fpic) linked -Bsymbolic: nothing can interpose its functions, so tell the compiler
# (-fno-semantic-interposition), or it will not inline across files.
FREE_CFLAGS += -flto=auto -ffat-lto-objects -fno-semantic-interposition
EFI_LDFLAGS := -flto=auto -O2 -nostdlib -nostartfiles -shared -Wl,-Bsymbolic -Wl,-znocombreloc \
               -Wl,--no-undefined -Wl,-T,$(EFI_LDS)
NASMFLAGS   := -f elf64 -g

# Lists the fragments append to.
ALL_TARGETS   :=
TOOLS_TARGETS :=
CHECK_TARGETS :=
BENCH_TARGETS :=
FUZZ_TARGETS  :=
UNIT_TESTS    :=
CLEAN_EXTRA   :=

# --- build rules shared by every fragment -------------------------------------------------

$(BUILD)/host/%.o: %.c
	@mkdir -p $(@D)
	$(HOSTCC) $(HOST_CFLAGS) $(TEST_SAN) -c $< -o $@

# Host tools are built without sanitizers (they are benchmarked).
$(BUILD)/hosttool/%.o: %.c
	@mkdir -p $(@D)
	$(HOSTCC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/efi/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(FREE_CFLAGS) -c $< -o $@

$(BUILD)/efi/%.o: %.asm
	@mkdir -p $(@D)
	$(NASM) $(NASMFLAGS) -MD $(@:.o=.d) -MP $< -o $@

# $(call host_objs,SRCS) / $(call efi_objs,SRCS): object paths for sources.
host_objs = $(patsubst %.c,$(BUILD)/host/%.o,$(1))
tool_objs = $(patsubst %.c,$(BUILD)/hosttool/%.o,$(1))
efi_objs  = $(patsubst %.asm,$(BUILD)/efi/%.o,$(patsubst %.c,$(BUILD)/efi/%.o,$(1)))

# $(call host_test,NAME,SRCS[,LIBS]): a cmocka unit test $(BUILD)/tests/NAME run by check-unit.
define host_test
UNIT_TESTS += $(BUILD)/tests/$(1)
$(BUILD)/tests/$(1): $(call host_objs,$(2))
	@mkdir -p $$(@D)
	$$(HOSTCC) $$(TEST_SAN) $$(HOST_LDFLAGS) $$^ -o $$@ -lcmocka $(3)
endef

# $(call efi_app,NAME,SRCS): a UEFI application $(BUILD)/NAME.efi (gnu-efi, crt0 first).
define efi_app
$(BUILD)/$(1).so: $(call efi_objs,$(2)) $(EFI_LDS) $(EFI_CRT0)
	@mkdir -p $$(@D)
	$$(CC) $$(FREE_CFLAGS) $$(EFI_LDFLAGS) $(EFI_CRT0) $(call efi_objs,$(2)) -o $$@ -L$(EFI_LIBDIR) -lefi -lgnuefi
$(BUILD)/$(1).efi: $(BUILD)/$(1).so
	$$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
	    -j '.rel.*' -j '.rela.*' -j .reloc --target efi-app-x86_64 --subsystem=10 $$< $$@
endef

# --- fragments ----------------------------------------------------------------------------

include $(sort $(wildcard lib/build.mk decode/build.mk pci/build.mk devices/build.mk \
                          ept/build.mk vmx/build.mk boot/build.mk))
include $(sort $(wildcard tools/*/build.mk))
include $(sort $(wildcard tests/*/build.mk))

# --- user-facing targets ------------------------------------------------------------------

.PHONY: all tools check check-unit bench fuzz clean deps format

all: $(ALL_TARGETS) $(TOOLS_TARGETS)

tools: $(TOOLS_TARGETS)

# Every cmocka test binary, one after the other; the first failure fails the target but all run.
check-unit: $(UNIT_TESTS)
	@fail=0; for t in $(UNIT_TESTS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

check: check-unit $(CHECK_TARGETS)
	@echo "check: all passed"

bench: $(BENCH_TARGETS)

fuzz: $(FUZZ_TARGETS)

# Install the Debian packages the build and the rigs need (root only; prints what is missing
# otherwise).
deps:
	@tools/deps.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(CLEAN_EXTRA)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
