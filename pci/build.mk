# pci/: the virtual PCI bus (config space, CF8/CFC, ECAM, BAR moves, MMIO dispatch, placement).
# Pure C: compiled freestanding for the hypervisor and for host tests (tests/pci/).
PCI_SRCS := pci/pci.c pci/place.c
# Build the freestanding objects in `make` so the hypervisor link never meets them first.
ALL_TARGETS += $(call efi_objs,$(PCI_SRCS))
