# The x86 decoder and the emulation of a decoded access (decode/decode.h, decode/emulate.h).
DECODER_SRCS := decode/decode.c decode/opcodes.c decode/emulate.c
