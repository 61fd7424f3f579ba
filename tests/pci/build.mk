# Host unit tests for pci/: config space, CF8/CFC and ECAM, BAR moves and MMIO dispatch,
# placement. tests/pci/testdev.c is a configurable device plus a fake real bus.
PCI_TEST_COMMON := pci/pci.c tests/pci/testdev.c
$(eval $(call host_test,test_pci_config,tests/pci/test_pci_config.c $(PCI_TEST_COMMON)))
$(eval $(call host_test,test_pci_port,tests/pci/test_pci_port.c $(PCI_TEST_COMMON),-lpthread))
$(eval $(call host_test,test_pci_bars,tests/pci/test_pci_bars.c $(PCI_TEST_COMMON),-lpthread))
$(eval $(call host_test,test_pci_place,tests/pci/test_pci_place.c pci/place.c))

# `make bench`: ns per MMIO access through the bus to edu, and per CF8+CFC pair (host, no
# sanitizers).
PCI_BENCH_SRCS := tests/pci/bench_pci_mmio.c pci/pci.c devices/edu.c lib/log.c lib/fmt.c
$(BUILD)/tests/bench_pci_mmio: $(call tool_objs,$(PCI_BENCH_SRCS))
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@

.PHONY: bench-pci
bench-pci: $(BUILD)/tests/bench_pci_mmio
	$(BUILD)/tests/bench_pci_mmio
BENCH_TARGETS += bench-pci
