# libFuzzer target over fetch + decode + emulate (clang, ASan + UBSan). A bounded run is part
# of `make check` (check-fuzz-decode, 30 s); `make fuzz` runs longer (FUZZ_SECONDS, 600 s).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_DECODE  := $(BUILD)/fuzz/fuzz_decode
FUZZ_DECODE_SRCS := tests/fuzz/fuzz_decode.c decode/decode.c decode/opcodes.c decode/emulate.c \
                    decode/alu.c decode/fetch.c decode/walk.c

$(FUZZ_DECODE): $(FUZZ_DECODE_SRCS) $(wildcard decode/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 $(WARN) -O1 -g -I. -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined $(FUZZ_DECODE_SRCS) -o $@

# Seeds: a few hundred lines of the instruction corpus, behind a 24-byte header.
$(BUILD)/fuzz/seeds/.done: tests/fuzz/make_seeds.py tests/decode/gen_nasm_corpus.py
	@mkdir -p $(@D)
	python3 tests/fuzz/make_seeds.py $(BUILD)/fuzz/seeds $(BUILD)/fuzz/nasm
	@touch $@

.PHONY: check-fuzz-decode fuzz-decode
check-fuzz-decode: $(FUZZ_DECODE) $(BUILD)/fuzz/seeds/.done
	@mkdir -p $(BUILD)/fuzz/corpus
	@$(FUZZ_DECODE) -max_total_time=30 -max_len=128 -seed=1 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
	    $(BUILD)/fuzz/corpus $(BUILD)/fuzz/seeds > $(BUILD)/fuzz/check.log 2>&1; st=$$?; \
	    grep -E '^(Done|stat::number_of_executed|==|SUMMARY|.*ERROR)' $(BUILD)/fuzz/check.log; \
	    if [ $$st -ne 0 ]; then tail -40 $(BUILD)/fuzz/check.log; echo "fuzz: FAILED"; exit 1; fi; \
	    echo "fuzz: fetch+decode+emulate, 30 s, no crash"

fuzz-decode: $(FUZZ_DECODE) $(BUILD)/fuzz/seeds/.done
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZ_DECODE) -max_total_time=$(FUZZ_SECONDS) -max_len=128 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
	    $(BUILD)/fuzz/corpus $(BUILD)/fuzz/seeds

CHECK_TARGETS += check-fuzz-decode
FUZZ_TARGETS  += fuzz-decode
