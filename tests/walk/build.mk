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
# libFuzzer target (clang, ASan + UBSan): fetch_insn_fast / fetch_insn_bound / fetch_bound_code
# against fetch_insn
# on fuzzer-made page tables (other roots too). A 10 s run is part of `make check`; `make fuzz` runs it longer.
FUZZ_FETCH_FAST := $(BUILD)/fuzz/fuzz_fetch_fast
FUZZ_FETCH_FAST_SRCS := tests/fuzz/fuzz_fetch_fast.c decode/fetch.c decode/walk.c
$(FUZZ_FETCH_FAST): $(FUZZ_FETCH_FAST_SRCS) decode/fetch.h decode/walk.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 $(WARN) -O1 -g -I. -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined $(FUZZ_FETCH_FAST_SRCS) -o $@
.PHONY: check-fuzz-fetch-fast fuzz-fetch-fast
check-fuzz-fetch-fast: $(FUZZ_FETCH_FAST)
	@mkdir -p $(BUILD)/fuzz/fetch_fast_corpus
	@$(FUZZ_FETCH_FAST) -max_total_time=10 -seed=1 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/fetch_fast_corpus \
	    > $(BUILD)/fuzz/fetch_fast.log 2>&1; st=$$?; \
	    grep -E '^(stat::number_of_executed|==|SUMMARY)' $(BUILD)/fuzz/fetch_fast.log; \
	    if [ $$st -ne 0 ]; then tail -30 $(BUILD)/fuzz/fetch_fast.log; echo "fuzz: FAILED"; exit 1; fi; \
	    echo "fuzz: fetch_insn_fast/bound vs fetch_insn, 10 s, no difference"
fuzz-fetch-fast: $(FUZZ_FETCH_FAST)
	@mkdir -p $(BUILD)/fuzz/fetch_fast_corpus
	$(FUZZ_FETCH_FAST) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/fetch_fast_corpus
CHECK_TARGETS += check-fuzz-fetch-fast
FUZZ_TARGETS  += fuzz-fetch-fast
