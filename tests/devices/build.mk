# Host unit tests for devices/edu, driven through the pci/ bus as a guest reaches it.
$(eval $(call host_test,test_devices_edu,tests/devices/test_edu.c devices/edu.c pci/pci.c lib/log.c lib/fmt.c,-lpthread))
