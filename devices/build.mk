# devices/: device models behind struct device_ops (devices/device.h).
# Pure C: compiled freestanding for the hypervisor and for host tests (tests/devices/).
DEVICES_SRCS := devices/edu.c
ALL_TARGETS += $(call efi_objs,$(DEVICES_SRCS))
