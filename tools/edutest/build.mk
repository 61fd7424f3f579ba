# tools/edutest: edutest.efi, the guest-side judge of an edu-compatible device (QEMU's or
# Trapvisor's). Pure helpers (options, ACPI MCFG walk) have host tests.
EDUTEST_SRCS := tools/edutest/edutest.c tools/edutest/options.c tools/edutest/acpi_mcfg.c \
                lib/fmt.c lib/string.c lib/serial.c
$(eval $(call efi_app,edutest,$(EDUTEST_SRCS)))
ALL_TARGETS += $(BUILD)/edutest.efi

$(eval $(call host_test,test_edutest_options,tools/edutest/test_options.c tools/edutest/options.c))
$(eval $(call host_test,test_edutest_acpi_mcfg,tools/edutest/test_acpi_mcfg.c tools/edutest/acpi_mcfg.c))
