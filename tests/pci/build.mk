# Host unit tests for pci/: config space, CF8/CFC and ECAM, BAR moves and MMIO dispatch,
# placement. tests/pci/testdev.c is a configurable device plus a fake real bus.
PCI_TEST_COMMON := pci/pci.c tests/pci/testdev.c
$(eval $(call host_test,test_pci_config,tests/pci/test_pci_config.c $(PCI_TEST_COMMON)))
$(eval $(call host_test,test_pci_port,tests/pci/test_pci_port.c $(PCI_TEST_COMMON),-lpthread))
$(eval $(call host_test,test_pci_bars,tests/pci/test_pci_bars.c $(PCI_TEST_COMMON)))
$(eval $(call host_test,test_pci_place,tests/pci/test_pci_place.c pci/place.c))
