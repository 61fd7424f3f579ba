# make bench-exits (part of make bench): exitbench.efi under Trapvisor in Bochs 3.0 + OVMF with
# one CPU, once as built, once built without the exit accounting (ACCOUNTING=0) and once
# without the MMIO fast path's per-CPU caches (MMIO_CACHES=0), and the table into
# docs/benchmarks.md. Bochs's guest TSC counts instructions: exact path lengths.
BENCH_EXITS_IMG        := $(BUILD)/bench/exits.img
BENCH_EXITS_NOACCT     := $(BUILD)/noacct
BENCH_EXITS_NOACCT_IMG := $(BUILD)/bench/exits-noacct.img
BENCH_EXITS_NOCACHE     := $(BUILD)/nocache
BENCH_EXITS_NOCACHE_IMG := $(BUILD)/bench/exits-nocache.img

$(BENCH_EXITS_IMG): $(BUILD)/trapvisor.efi $(BUILD)/exitbench.efi tests/bench/startup.nsh \
                    tools/image/mkimg.sh
	@mkdir -p $(@D)
	tools/image/mkimg.sh $@ $(BUILD)/trapvisor.efi=EFI/trapvisor/trapvisor.efi \
	    $(BUILD)/exitbench.efi=EFI/trapvisor/exitbench.efi tests/bench/startup.nsh=startup.nsh

# The same sources built with ACCOUNTING=0 in a build folder of its own.
.PHONY: $(BENCH_EXITS_NOACCT)/trapvisor.efi
$(BENCH_EXITS_NOACCT)/trapvisor.efi:
	$(MAKE) --no-print-directory BUILD=$(BENCH_EXITS_NOACCT) ACCOUNTING=0 $@

$(BENCH_EXITS_NOACCT_IMG): $(BENCH_EXITS_NOACCT)/trapvisor.efi $(BUILD)/exitbench.efi \
                           tests/bench/startup.nsh tools/image/mkimg.sh
	@mkdir -p $(@D)
	tools/image/mkimg.sh $@ $(BENCH_EXITS_NOACCT)/trapvisor.efi=EFI/trapvisor/trapvisor.efi \
	    $(BUILD)/exitbench.efi=EFI/trapvisor/exitbench.efi tests/bench/startup.nsh=startup.nsh

# And with MMIO_CACHES=0.
.PHONY: $(BENCH_EXITS_NOCACHE)/trapvisor.efi
$(BENCH_EXITS_NOCACHE)/trapvisor.efi:
	$(MAKE) --no-print-directory BUILD=$(BENCH_EXITS_NOCACHE) MMIO_CACHES=0 $@

$(BENCH_EXITS_NOCACHE_IMG): $(BENCH_EXITS_NOCACHE)/trapvisor.efi $(BUILD)/exitbench.efi \
                            tests/bench/startup.nsh tools/image/mkimg.sh
	@mkdir -p $(@D)
	tools/image/mkimg.sh $@ $(BENCH_EXITS_NOCACHE)/trapvisor.efi=EFI/trapvisor/trapvisor.efi \
	    $(BUILD)/exitbench.efi=EFI/trapvisor/exitbench.efi tests/bench/startup.nsh=startup.nsh

.PHONY: bench-exits
bench-exits: $(BENCH_EXITS_IMG) $(BENCH_EXITS_NOACCT_IMG) $(BENCH_EXITS_NOCACHE_IMG)
	@tools/deps.sh
	tests/bench/bench-exits.sh $(BENCH_EXITS_IMG) $(BENCH_EXITS_NOACCT_IMG) \
	    $(BENCH_EXITS_NOCACHE_IMG) $(BUILD)/bench docs/benchmarks.md

BENCH_TARGETS += bench-exits
