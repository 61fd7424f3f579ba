# tools/exitcompare: exitbench results under Trapvisor against a KVM guest's (QEMU's edu), as a
# table and issue 5's real-hardware verdicts; `make bench-compare` writes them into
# docs/benchmarks.md, `make bench-kvm` measures both sides on an Intel machine with KVM.
# docs/exit-comparison.md has the procedure.
EXITCOMPARE := $(BUILD)/tools/exitcompare
EXITCOMPARE_SRCS := tools/exitcompare/exitcompare.c tools/exitcompare/compare.c \
                    tools/exitbench/samples.c lib/fmt.c
$(EXITCOMPARE): $(call tool_objs,$(EXITCOMPARE_SRCS))
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@
TOOLS_TARGETS += $(EXITCOMPARE)
# make bench-compare TRAPVISOR=<log or csv> KVM=<log or csv> [MACHINE="..."] [CPU=N]
.PHONY: bench-compare
bench-compare: $(EXITCOMPARE)
	@[ -n "$(TRAPVISOR)" ] && [ -n "$(KVM)" ] || { echo "bench-compare: usage: make bench-compare TRAPVISOR=<log or csv> KVM=<log or csv> [MACHINE=\"...\"] [CPU=N]" >&2; exit 2; }
	tools/exitcompare/bench-compare.sh --exitcompare $(EXITCOMPARE) --md docs/benchmarks.md \
	    --trapvisor "$(TRAPVISOR)" --kvm "$(KVM)" $(if $(MACHINE),--machine "$(MACHINE)") \
	    $(if $(CPU),--cpu "$(CPU)")

# make bench-kvm: both sides in QEMU/KVM on this machine (Intel, /dev/kvm; Trapvisor's side only
# with nested VMX), then bench-compare. Here (no /dev/kvm) it says why and fails.
BENCH_KVM_N ?= 10000
BENCH_KVM_WARMUP ?= 1000
# BENCH_KVM_CPUS=2-3 pins QEMU with taskset.
.PHONY: bench-kvm
bench-kvm: $(EXITCOMPARE) $(BUILD)/exitbench.efi $(BUILD)/trapvisor.efi
	@tools/exitcompare/bench-kvm.sh --exitcompare $(EXITCOMPARE) --md docs/benchmarks.md \
	    --out $(BUILD)/bench-kvm --exitbench $(BUILD)/exitbench.efi \
	    --trapvisor $(BUILD)/trapvisor.efi -n $(BENCH_KVM_N) --warmup $(BENCH_KVM_WARMUP) \
	    $(if $(MACHINE),--machine "$(MACHINE)") $(if $(BENCH_KVM_CPUS),--cpus "$(BENCH_KVM_CPUS)")
