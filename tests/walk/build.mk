# tests/walk: decode/walk and decode/fetch on synthetic guest page tables (make check-unit).
WALK_TEST_SUPPORT := tests/walk/guest_tables.c
$(eval $(call host_test,test_walk,tests/walk/test_walk.c $(WALK_TEST_SUPPORT) decode/walk.c decode/fetch.c))
$(eval $(call host_test,test_fetch,tests/walk/test_fetch.c $(WALK_TEST_SUPPORT) decode/walk.c decode/fetch.c))
# Host timing (no sanitizers): `make bench-walk`, part of `make bench`.
BENCH_WALK_SRCS := tests/walk/bench_walk.c $(WALK_TEST_SUPPORT) decode/walk.c decode/fetch.c
$(BUILD)/tools/bench_walk: $(call tool_objs,$(BENCH_WALK_SRCS))
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@
.PHONY: bench-walk
bench-walk: $(BUILD)/tools/bench_walk
	$(BUILD)/tools/bench_walk
BENCH_TARGETS += bench-walk
# fetch_insn_fast against fetch_insn on random page-table trees.
$(eval $(call host_test,test_fetch_fast,tests/walk/test_fetch_fast.c $(WALK_TEST_SUPPORT) decode/walk.c decode/fetch.c))
# Instruction counts of one fetch, fast and general (`make perf-fetch`; valgrind/callgrind).
PERF_FETCH_SRCS := tests/walk/perf_fetch.c decode/walk.c decode/fetch.c
$(BUILD)/tools/perf_fetch: $(call tool_objs,$(PERF_FETCH_SRCS))
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@
.PHONY: perf-fetch
perf-fetch: $(BUILD)/tools/perf_fetch
	tests/walk/perf_fetch.sh $(BUILD)
