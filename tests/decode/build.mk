# Decoder and emulation tests (issue 2): cmocka unit tests, the differential against the host
# CPU (a cmocka test), and the differential against Zydis over a corpus generated at test
# time (check-decode-diff).
DECODE_TEST_SRCS := decode/decode.c decode/opcodes.c
EMULATE_TEST_SRCS := $(DECODE_TEST_SRCS) decode/emulate.c decode/alu.c

$(eval $(call host_test,test_decode,tests/decode/test_decode.c $(DECODE_TEST_SRCS)))
$(eval $(call host_test,test_emulate,tests/decode/test_emulate.c $(EMULATE_TEST_SRCS)))
$(eval $(call host_test,test_emulate_native,tests/decode/test_emulate_native.c $(EMULATE_TEST_SRCS)))

ZYDIS_REF := $(BUILD)/tests/zydis_ref
$(ZYDIS_REF): $(call tool_objs,tests/decode/zydis_ref.c)
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@ -lZydis

ZYDIS_DETAIL := $(BUILD)/tests/zydis_detail
$(ZYDIS_DETAIL): $(call tool_objs,tests/decode/zydis_detail.c $(DECODE_TEST_SRCS))
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@ -lZydis

.PHONY: check-decode-diff
check-decode-diff: $(X86DEC) $(ZYDIS_REF) $(ZYDIS_DETAIL)
	tests/decode/run_differential.sh $(X86DEC) $(ZYDIS_REF) $(ZYDIS_DETAIL) $(BUILD)/decode-corpus
CHECK_TARGETS += check-decode-diff

# The decoder and emulation also build freestanding (they are linked into the hypervisor).
ALL_TARGETS += $(call efi_objs,$(DECODER_SRCS))


# make bench: x86dec --bench over the nasm + compiler corpus; figures into docs/benchmarks.md.
.PHONY: bench-decoder
bench-decoder: $(X86DEC)
	tests/decode/bench_decoder.sh $(X86DEC) $(BUILD)/decode-bench docs/benchmarks.md
BENCH_TARGETS += bench-decoder

# The MOV fast path of x86_decode() against x86_decode_general() (differential, every opcode,
# ModRM, SIB, prefix set and buffer length), linked with decode.c built with its test probe.
$(eval $(call host_test,test_decode_fast,tests/decode/test_decode_fast.c tests/decode/decode_probe.c decode/opcodes.c))

# Host instructions per x86_decode() call for the MMIO MOV forms (callgrind; not a timed test).
PERF_DECODE := $(BUILD)/perf/perf_decode
$(PERF_DECODE): $(call tool_objs,tests/decode/perf_decode.c decode/decode.c decode/opcodes.c)
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@
TOOLS_TARGETS += $(PERF_DECODE)

.PHONY: perf-decode
perf-decode: $(PERF_DECODE)
	tests/decode/perf_decode.sh $(PERF_DECODE)
BENCH_TARGETS += perf-decode

# libFuzzer: x86_decode() (fast path) == x86_decode_general() on arbitrary bytes; a bounded run
# in make check (check-fuzz-decode-fast, 15 s), longer with make fuzz (FUZZ_SECONDS).
FUZZ_DECODE_FAST := $(BUILD)/fuzz/fuzz_decode_fast
FUZZ_DECODE_FAST_SRCS := tests/decode/fuzz_decode_fast.c decode/decode.c decode/opcodes.c
$(FUZZ_DECODE_FAST): $(FUZZ_DECODE_FAST_SRCS) $(wildcard decode/*.h)
	@mkdir -p $(@D)
	$(or $(FUZZ_CC),clang) -std=c11 $(WARN) -O1 -g -I. -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined $(FUZZ_DECODE_FAST_SRCS) -o $@

.PHONY: check-fuzz-decode-fast fuzz-decode-fast
check-fuzz-decode-fast: $(FUZZ_DECODE_FAST)
	@mkdir -p $(BUILD)/fuzz/corpus-fast
	@$(FUZZ_DECODE_FAST) -max_total_time=15 -max_len=33 -seed=1 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/fast- $(BUILD)/fuzz/corpus-fast > $(BUILD)/fuzz/check-fast.log 2>&1; \
	    st=$$?; grep -E '^(Done|stat::number_of_executed|==|SUMMARY|.*ERROR)' $(BUILD)/fuzz/check-fast.log; \
	    if [ $$st -ne 0 ]; then tail -40 $(BUILD)/fuzz/check-fast.log; echo "fuzz: FAILED"; exit 1; fi; \
	    echo "fuzz: decode fast path vs general, 15 s, no difference"
CHECK_TARGETS += check-fuzz-decode-fast

fuzz-decode-fast: $(FUZZ_DECODE_FAST)
	@mkdir -p $(BUILD)/fuzz/corpus-fast
	$(FUZZ_DECODE_FAST) -max_total_time=$(or $(FUZZ_SECONDS),600) -max_len=33 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/fast- $(BUILD)/fuzz/corpus-fast
FUZZ_TARGETS += fuzz-decode-fast
$(eval $(call host_test,test_decode_mov,tests/decode/test_decode_mov.c $(EMULATE_TEST_SRCS) decode/mov.c))
