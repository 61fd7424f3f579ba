# tools/linux: Linux as a guest (issue 6). Everything lands in $(BUILD)/linux/:
#   kernel/vmlinuz   Debian 12's generic kernel (tools/linux/deps.sh kernel; fetched, cached)
#   edu/edu.ko       the edu driver, built against the matching linux-headers package
#   edutest          the static test program; rigexit, the static port-I/O helper
#   initrd.gz        busybox-static + edu.ko + edutest + rigexit + /init
# `make linux` builds them all (installs the headers when root); tests/linux runs them.
LINUX_DIR      := $(BUILD)/linux
LINUX_KERNEL   := $(LINUX_DIR)/kernel/vmlinuz
LINUX_INITRD   := $(LINUX_DIR)/initrd.gz
LINUX_MODULE   := $(LINUX_DIR)/edu/edu.ko
LINUX_EDUTEST  := $(LINUX_DIR)/edutest
LINUX_RIGEXIT  := $(LINUX_DIR)/rigexit
LINUX_BUSYBOX  ?= /bin/busybox
LINUX_USERCFLAGS := -std=c11 $(WARN) -O2 -I. -static
# busybox applets /init uses, linked into /bin.
LINUX_APPLETS  := sh mount umount insmod rmmod lsmod grep sed cat dmesg sleep poweroff uname ls echo
# Recursive on purpose: apt-cache is asked only when a recipe needs the version.
LINUX_KVER      = $(shell tools/linux/deps.sh version)

.PHONY: linux linux-deps
linux: $(LINUX_KERNEL) $(LINUX_INITRD)

linux-deps:
	@tools/linux/deps.sh headers

# The kernel is fetched once per version; the stamp is the file itself (deps.sh checks the
# version and does nothing when it is cached).
$(LINUX_KERNEL): tools/linux/deps.sh
	@tools/linux/deps.sh kernel $(LINUX_DIR)/kernel

# Kbuild builds in the folder that holds the sources, so build from a copy in $(BUILD).
$(LINUX_MODULE): tools/linux/edu/edu.c tools/linux/edu/edu_ioctl.h tools/linux/edu/Kbuild | linux-deps
	@mkdir -p $(@D)
	cp $^ $(@D)/
	$(MAKE) -C /usr/src/linux-headers-$(LINUX_KVER) M=$(abspath $(@D)) modules >$(@D)/build.log 2>&1 \
	    || { cat $(@D)/build.log; exit 1; }
	@grep -E 'warning|error' $(@D)/build.log | grep -v 'Skipping BTF' || true

$(LINUX_EDUTEST): tools/linux/edutest/edutest.c tools/linux/edu/edu_ioctl.h vmx/stats_abi.h
	@mkdir -p $(@D)
	$(HOSTCC) $(LINUX_USERCFLAGS) -pthread $< -o $@

$(LINUX_RIGEXIT): tools/linux/initramfs/rigexit.c
	@mkdir -p $(@D)
	$(HOSTCC) $(LINUX_USERCFLAGS) $< -o $@

$(LINUX_DIR)/initramfs.spec: tools/linux/build.mk
	@mkdir -p $(@D)
	{ for d in bin dev proc sys lib tmp; do echo "dir $$d 755"; done; \
	  echo "nod dev/console 600 c 5 1"; echo "nod dev/null 666 c 1 3"; \
	  echo "file init tools/linux/initramfs/init 755"; \
	  echo "file bin/busybox $(LINUX_BUSYBOX) 755"; \
	  for a in $(LINUX_APPLETS); do echo "slink bin/$$a busybox"; done; \
	  echo "file bin/edutest $(LINUX_EDUTEST) 755"; \
	  echo "file bin/rigexit $(LINUX_RIGEXIT) 755"; \
	  echo "file lib/edu.ko $(LINUX_MODULE) 644"; } > $@

$(LINUX_INITRD): $(LINUX_DIR)/initramfs.spec tools/linux/mkinitramfs.py tools/linux/initramfs/init \
                 $(LINUX_EDUTEST) $(LINUX_RIGEXIT) $(LINUX_MODULE) | linux-deps
	tools/linux/mkinitramfs.py $@ $<
