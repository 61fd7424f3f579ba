# decode/: two fragments with separate owners, joined here.
#   decode/decoder.mk: the decoder and emulation of a decoded access (DECODER_SRCS)
#   decode/walk.mk:    guest page walk, instruction fetch, ALU/flags (WALK_SRCS)
DECODER_SRCS :=
WALK_SRCS    :=
-include decode/decoder.mk decode/walk.mk
# MOV-family accesses reduced for replay by the MMIO fast path's sites (decode/mov.h).
MOV_SRCS := decode/mov.c
# Everything the hypervisor links from decode/.
DECODE_SRCS = $(DECODER_SRCS) $(WALK_SRCS) $(MOV_SRCS)
