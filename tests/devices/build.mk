# Host unit tests for devices/edu, driven through the pci/ bus as a guest reaches it.
$(eval $(call host_test,test_devices_edu,tests/devices/test_edu.c devices/edu.c pci/pci.c lib/log.c lib/fmt.c,-lpthread))

# libFuzzer target over the bus + edu (clang, ASan + UBSan): arbitrary CF8/CFC, ECAM, config,
# MMIO and port I/O sequences with invariants checked after each one. A bounded run is part of
# `make check` (check-fuzz-pci, 20 s); `make fuzz` runs it for PCI_FUZZ_SECONDS.
PCI_FUZZ_CC      ?= clang
PCI_FUZZ_SECONDS ?= 300
PCI_FUZZ         := $(BUILD)/fuzz/fuzz_pci_edu
PCI_FUZZ_SRCS    := tests/devices/fuzz_pci_edu.c pci/pci.c devices/edu.c lib/log.c lib/fmt.c

$(PCI_FUZZ): $(PCI_FUZZ_SRCS) $(wildcard pci/*.h devices/*.h lib/*.h)
	@mkdir -p $(@D)
	$(PCI_FUZZ_CC) -std=c11 $(WARN) -O1 -g -I. -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined $(PCI_FUZZ_SRCS) -o $@

.PHONY: check-fuzz-pci fuzz-pci
check-fuzz-pci: $(PCI_FUZZ)
	@mkdir -p $(BUILD)/fuzz/pci-corpus
	@$(PCI_FUZZ) -max_total_time=20 -max_len=600 -seed=1 -print_final_stats=1 \
	    $(BUILD)/fuzz/pci-corpus > $(BUILD)/fuzz/pci-check.log 2>&1; st=$$?; \
	    grep -E '^(Done|stat::number_of_executed|==|SUMMARY|.*ERROR)' $(BUILD)/fuzz/pci-check.log; \
	    if [ $$st -ne 0 ]; then tail -40 $(BUILD)/fuzz/pci-check.log; echo "fuzz: FAILED"; exit 1; fi; \
	    echo "fuzz: pci bus + edu, 20 s, no crash, invariants held"

fuzz-pci: $(PCI_FUZZ)
	@mkdir -p $(BUILD)/fuzz/pci-corpus
	$(PCI_FUZZ) -max_total_time=$(PCI_FUZZ_SECONDS) -max_len=600 -print_final_stats=1 \
	    $(BUILD)/fuzz/pci-corpus

CHECK_TARGETS += check-fuzz-pci
FUZZ_TARGETS  += fuzz-pci
