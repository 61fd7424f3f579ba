# tests/options/: the load-options and config-file parser (boot/options.c).
$(eval $(call host_test,test_options,tests/options/test_options.c boot/options.c lib/fmt.c))

# libFuzzer target (clang, ASan + UBSan): 10 s in `make check`, FUZZ_SECONDS in `make fuzz`.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_OPTIONS := $(BUILD)/fuzz/fuzz_options
FUZZ_OPTIONS_SRCS := tests/options/fuzz_options.c boot/options.c lib/fmt.c

$(FUZZ_OPTIONS): $(FUZZ_OPTIONS_SRCS) boot/options.h lib/fmt.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 $(WARN) -O1 -g -I. -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined $(FUZZ_OPTIONS_SRCS) -o $@

# Seeds: the documented example config and a few command lines.
$(BUILD)/fuzz/options-seeds/.done: tests/options/build.mk
	@mkdir -p $(@D)
	@printf 'edu = on\nstats = off # c\nlog = verbose\nstart = "\\EFI\\a b.efi"\nserial = com2\ncpus = all\n' \
	    >$(@D)/cfg1
	@printf 'x.efi --no-edu --cpus 2 --serial=0x2f8 --start \\EFI\\debian\\grubx64.efi --quiet' \
	    >$(@D)/cmd1
	@printf 'x\0 \0-\0-\0c\0a\0p\0s\0\0\0' >$(@D)/ucs1
	@touch $@

.PHONY: check-fuzz-options fuzz-options
check-fuzz-options: $(FUZZ_OPTIONS) $(BUILD)/fuzz/options-seeds/.done
	@mkdir -p $(BUILD)/fuzz/options-corpus
	@$(FUZZ_OPTIONS) -max_total_time=10 -max_len=2048 -seed=1 -print_final_stats=1 \
	    $(BUILD)/fuzz/options-corpus $(BUILD)/fuzz/options-seeds > $(BUILD)/fuzz/options.log 2>&1; \
	    st=$$?; grep -E '^(Done|stat::number_of_executed|SUMMARY)' $(BUILD)/fuzz/options.log; \
	    if [ $$st -ne 0 ]; then tail -40 $(BUILD)/fuzz/options.log; echo "fuzz: options FAILED"; exit 1; fi; \
	    echo "fuzz: options parser, 10 s, no crash"

fuzz-options: $(FUZZ_OPTIONS) $(BUILD)/fuzz/options-seeds/.done
	@mkdir -p $(BUILD)/fuzz/options-corpus
	$(FUZZ_OPTIONS) -max_total_time=$(FUZZ_SECONDS) -max_len=20000 -print_final_stats=1 \
	    $(BUILD)/fuzz/options-corpus $(BUILD)/fuzz/options-seeds

CHECK_TARGETS += check-fuzz-options
FUZZ_TARGETS  += fuzz-options
