# Host unit tests for ept/ (cmocka, ASan+UBSan through host_test).
$(eval $(call host_test,test_ept_mtrr,tests/ept/test_ept_mtrr.c ept/mtrr.c))
$(eval $(call host_test,test_ept_region,tests/ept/test_ept_region.c ept/region.c,-lpthread))
$(eval $(call host_test,test_ept_map,tests/ept/test_ept_map.c tests/ept/test_pool.c $(EPT_SRCS) lib/fmt.c))

# Host figures (no sanitizers): make bench-ept (also part of make bench).
EPT_BENCH := $(BUILD)/tools/bench_ept
$(EPT_BENCH): $(call tool_objs,tests/ept/bench_ept.c tests/ept/test_pool.c $(EPT_SRCS) lib/fmt.c)
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@

.PHONY: bench-ept
bench-ept: $(EPT_BENCH)
	$(EPT_BENCH)
BENCH_TARGETS += bench-ept
