# devices/: device models behind struct device_ops (devices/device.h).
# Pure C: compiled freestanding for the hypervisor and for host tests (tests/devices/).
# statsdev.c (issue 5) is owned by the statistics engineer; listed here so the hypervisor
# links every device from one variable.
DEVICES_SRCS := devices/edu.c devices/statsdev.c
ALL_TARGETS += $(call efi_objs,$(DEVICES_SRCS))
