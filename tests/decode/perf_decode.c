/* Host driver for counting the decoder's instructions with callgrind:
 *   perf_decode MODE ROUNDS HEX...   (MODE 16, 32 or 64; the bytes are padded with NOPs to the
 *   15 bytes an MMIO exit's fetch hands the decoder)
 *   valgrind --tool=callgrind --toggle-collect=x86_decode perf_decode 64 1000 8b 43 10
 * The collected instruction count divided by ROUNDS is the cost of one x86_decode() call
 * (tests/decode/perf_decode.sh does exactly that). Not a timed test: the figure is a count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s 16|32|64 ROUNDS HEX...\n", argv[0]);
        return 2;
    }
    int bits = atoi(argv[1]);
    enum x86_mode mode = bits == 64 ? X86_MODE_64 : bits == 32 ? X86_MODE_32 : X86_MODE_16;
    unsigned rounds = (unsigned)strtoul(argv[2], NULL, 0);
    uint8_t buf[X86_MAX_INSN_LEN];
    memset(buf, 0x90, sizeof buf);
    int n = 0;
    for (int i = 3; i < argc && n < X86_MAX_INSN_LEN; i++)
        buf[n++] = (uint8_t)strtoul(argv[i], NULL, 16);
    /* volatile: the compiler may not hoist the call out of the loop. */
    const uint8_t *volatile bp = buf;
    unsigned ok = 0, total_len = 0;
    for (unsigned r = 0; r < rounds; r++) {
        struct x86_insn insn;
        if (x86_decode(bp, sizeof buf, mode, &insn) == X86_DECODE_OK) {
            ok++;
            total_len += insn.len;
        }
    }
    printf("perf_decode: %u rounds, %u ok, len %u\n", rounds, ok, ok ? total_len / ok : 0);
    return ok == rounds ? 0 : 1;
}
