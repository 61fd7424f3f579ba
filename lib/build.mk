# lib/: freestanding support code, built for the hypervisor (efi) and for host tests.
LIB_SRCS := lib/fmt.c lib/string.c lib/serial.c lib/log.c
