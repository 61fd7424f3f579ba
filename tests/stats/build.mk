# Host unit tests for the per-CPU exit accounting (vmx/stats.c) and the exit stub's record
# (vmx/stats_record.asm, assembled for the host: the same instructions the stub runs).
$(BUILD)/host/vmx/stats_record.o: vmx/stats_record.asm vmx/stats_record.inc
	@mkdir -p $(@D)
	$(NASM) -f elf64 -g $< -o $@
$(eval $(call host_test,test_vmx_stats,tests/stats/test_vmx_stats.c vmx/stats.c lib/string.c,-lpthread))
$(BUILD)/tests/test_vmx_stats: $(BUILD)/host/vmx/stats_record.o
# The retire decisions of the exit path (vmx/exit.h), pure functions.
$(eval $(call host_test,test_vmx_retire,tests/stats/test_vmx_retire.c))
# The same accounting built as `make ACCOUNTING=0` builds it (tests/stats/stats_no_accounting.c
# includes vmx/stats.c with TRAPVISOR_ACCOUNTING=0).
$(eval $(call host_test,test_vmx_stats_no_accounting,tests/stats/test_vmx_stats_no_accounting.c tests/stats/stats_no_accounting.c lib/string.c))
