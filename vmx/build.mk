# vmx/: VMX root code, and the link of trapvisor.efi (this fragment is included after
# decode/, devices/, ept/, lib/ and pci/, so their source lists are complete here).
VMX_SRCS := vmx/vmx.c vmx/exit.c vmx/stats.c vmx/caps.c vmx/stub.asm vmx/stats_record.asm

# The stub leaves out its TSC reads and the record in a build without accounting.
$(BUILD)/efi/vmx/stub.o: NASMFLAGS += -DTRAPVISOR_ACCOUNTING=$(ACCOUNTING)
# nasm's -MD does not list the %include: both assemble the record's macros.
$(BUILD)/efi/vmx/stub.o $(BUILD)/efi/vmx/stats_record.o: vmx/stats_record.inc

TRAPVISOR_SRCS := $(BOOT_SRCS) $(VMX_SRCS) $(LIB_SRCS) $(EPT_SRCS) $(PCI_SRCS) \
                  $(DEVICES_SRCS) $(DECODE_SRCS)
TRAPVISOR_SRCS := $(sort $(TRAPVISOR_SRCS) devices/statsdev.c)
$(eval $(call efi_app,trapvisor,$(TRAPVISOR_SRCS)))
ALL_TARGETS += $(BUILD)/trapvisor.efi
