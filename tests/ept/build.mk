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

# libFuzzer target over the map operations (clang, ASan + UBSan). A 10 s run is part of
# `make check` (check-fuzz-ept); `make fuzz` runs it for FUZZ_SECONDS.
EPT_FUZZ_CC   ?= clang
EPT_FUZZ      := $(BUILD)/fuzz/fuzz_ept
EPT_FUZZ_SRCS := tests/ept/fuzz_ept.c tests/ept/test_pool.c $(EPT_SRCS) lib/fmt.c
$(EPT_FUZZ): $(EPT_FUZZ_SRCS) $(wildcard ept/*.h tests/ept/*.h)
	@mkdir -p $(@D)
	$(EPT_FUZZ_CC) -std=c11 $(WARN) -O1 -g -I. -D_POSIX_C_SOURCE=200809L \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(EPT_FUZZ_SRCS) -o $@

# Seeds: deterministic pseudo-random inputs of full length, so every run starts with long
# operation sequences instead of growing them from nothing.
$(BUILD)/fuzz/ept-seeds/.done:
	@mkdir -p $(@D)
	python3 -c 'import random,sys; r=random.Random(7); \
	    [open("%s/seed%02d" % (sys.argv[1], i), "wb").write(bytes(r.randrange(256) for _ in range(512))) for i in range(32)]' $(@D)
	@touch $@

.PHONY: check-fuzz-ept fuzz-ept
check-fuzz-ept: $(EPT_FUZZ) $(BUILD)/fuzz/ept-seeds/.done
	@mkdir -p $(BUILD)/fuzz/ept-corpus
	@$(EPT_FUZZ) -max_total_time=10 -max_len=512 -seed=1 -print_final_stats=1 \
	    $(BUILD)/fuzz/ept-corpus $(BUILD)/fuzz/ept-seeds > $(BUILD)/fuzz/ept-check.log 2>&1; st=$$?; \
	    grep -E '^(Done|stat::number_of_executed|==|SUMMARY|.*ERROR)' $(BUILD)/fuzz/ept-check.log; \
	    if [ $$st -ne 0 ]; then tail -40 $(BUILD)/fuzz/ept-check.log; echo "fuzz: ept FAILED"; exit 1; fi; \
	    echo "fuzz: ept map operations, 10 s, no failure"

fuzz-ept: $(EPT_FUZZ) $(BUILD)/fuzz/ept-seeds/.done
	@mkdir -p $(BUILD)/fuzz/ept-corpus
	$(EPT_FUZZ) -max_total_time=$(or $(FUZZ_SECONDS),600) -max_len=512 -print_final_stats=1 \
	    $(BUILD)/fuzz/ept-corpus $(BUILD)/fuzz/ept-seeds

CHECK_TARGETS += check-fuzz-ept
FUZZ_TARGETS  += fuzz-ept
