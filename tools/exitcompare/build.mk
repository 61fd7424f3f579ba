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
