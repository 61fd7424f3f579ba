# make bench-exits (part of make bench): exitbench.efi under Trapvisor in Bochs 3.0 + OVMF with
# one CPU, once as built, once built without the exit accounting (ACCOUNTING=0) and once
# without the MMIO fast path's per-CPU caches (MMIO_CACHES=0), and the table into
# docs/benchmarks.md. Bochs's guest TSC counts instructions: exact path lengths.
BENCH_EXITS_IMG         := $(BUILD)/bench/exits.img
BENCH_EXITS_NOACCT_IMG  := $(BUILD)/bench/exits-noacct.img
BENCH_EXITS_NOCACHE_IMG := $(BUILD)/bench/exits-nocache.img

# $(call bench_exits_image,IMG,TRAPVISOR_EFI): a boot image with that hypervisor, exitbench and
# the startup script that runs them.
define bench_exits_image
$(1): $(2) $(BUILD)/exitbench.efi tests/bench/startup.nsh tools/image/mkimg.sh
	@mkdir -p $$(@D)
	tools/image/mkimg.sh $$@ $(2)=EFI/trapvisor/trapvisor.efi \
	    $(BUILD)/exitbench.efi=EFI/trapvisor/exitbench.efi tests/bench/startup.nsh=startup.nsh
endef

# $(call bench_exits_variant,DIR,MAKE_VARIABLES): the same sources built with other settings in a
# build folder of their own (always asked of make there: it knows what is out of date).
define bench_exits_variant
.PHONY: $(1)/trapvisor.efi
$(1)/trapvisor.efi:
	$$(MAKE) --no-print-directory BUILD=$(1) $(2) $$@
endef

$(eval $(call bench_exits_image,$(BENCH_EXITS_IMG),$(BUILD)/trapvisor.efi))
$(eval $(call bench_exits_variant,$(BUILD)/noacct,ACCOUNTING=0))
$(eval $(call bench_exits_image,$(BENCH_EXITS_NOACCT_IMG),$(BUILD)/noacct/trapvisor.efi))
$(eval $(call bench_exits_variant,$(BUILD)/nocache,MMIO_CACHES=0))
$(eval $(call bench_exits_image,$(BENCH_EXITS_NOCACHE_IMG),$(BUILD)/nocache/trapvisor.efi))

.PHONY: bench-exits
bench-exits: $(BENCH_EXITS_IMG) $(BENCH_EXITS_NOACCT_IMG) $(BENCH_EXITS_NOCACHE_IMG)
	@tools/deps.sh
	tests/bench/bench-exits.sh $(BENCH_EXITS_IMG) $(BENCH_EXITS_NOACCT_IMG) \
	    $(BENCH_EXITS_NOCACHE_IMG) $(BUILD)/bench docs/benchmarks.md

BENCH_TARGETS += bench-exits
