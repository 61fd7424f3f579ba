/* decode/decode.c built with its test probe: x86_decode_fast_declined counts the instructions
 * the fast path hands to the general decoder (see decode.h). Otherwise the same code. */
#define X86_DECODE_FAST_PROBE 1
#include "decode/decode.c"
