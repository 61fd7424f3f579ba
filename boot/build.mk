# boot/: the UEFI entry of trapvisor.efi. The application itself is linked in vmx/build.mk
# (included after every folder it links from). BOOT_SRCS is expanded there.
BOOT_SRCS = boot/main.c boot/reloc.c boot/tv_main.c boot/host.c boot/mp.c boot/devices.c \
            boot/plan.c boot/chainload.c boot/mmio.c $(wildcard boot/options.c)
