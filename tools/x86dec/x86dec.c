/* x86dec: Trapvisor's decoder on the command line.
 *
 * Reads `<16|32|64> <hex bytes>` lines from stdin and prints exactly one line per input line:
 *   len=<n> access=<read|write|rmw|both|none> size=<bytes>
 *   error=<unsupported|invalid|truncated>
 * A line that is not of the input form gets `error=invalid` (it is not an instruction).
 *
 * `x86dec --bench [rounds]` reads the same input and times Trapvisor's decoder and Zydis's
 * ZydisDecoderDecodeFull over it in this process:
 *   bench: trapvisor=<ns> zydis=<ns> ns/insn */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <Zydis/Zydis.h>

#include "decode/decode.h"
#include "tools/x86dec/x86dec_input.h"

static enum x86_mode mode_of_bits(unsigned bits)
{
    return bits == 16 ? X86_MODE_16 : bits == 32 ? X86_MODE_32 : X86_MODE_64;
}

static void print_one(unsigned bits, const uint8_t *bytes, size_t n)
{
    struct x86_insn insn;
    enum x86_decode_status st = x86_decode(bytes, n, mode_of_bits(bits), &insn);
    if (st != X86_DECODE_OK)
        printf("error=%s\n", x86_decode_status_name(st));
    else
        printf("len=%u access=%s size=%u\n", insn.len, x86_access_name(insn.access),
               insn.access_size);
}

struct sample {
    uint8_t bytes[X86DEC_MAX_BYTES];
    uint8_t n;
    uint8_t bits;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bench(struct sample *s, size_t count, unsigned rounds)
{
    if (count == 0) {
        fprintf(stderr, "x86dec: --bench needs input lines\n");
        return 1;
    }
    ZydisDecoder zd[3];
    ZydisDecoderInit(&zd[0], ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&zd[1], ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisDecoderInit(&zd[2], ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);

    volatile unsigned sink = 0;
    double best_tv = 1e300, best_zy = 1e300;
    /* Best of 5 runs of `rounds` passes each, alternating, so both see the same machine. */
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ns();
        for (unsigned r = 0; r < rounds; r++) {
            for (size_t i = 0; i < count; i++) {
                struct x86_insn insn;
                x86_decode(s[i].bytes, s[i].n, mode_of_bits(s[i].bits), &insn);
                sink += insn.len;
            }
        }
        double t1 = now_ns();
        for (unsigned r = 0; r < rounds; r++) {
            for (size_t i = 0; i < count; i++) {
                ZydisDecodedInstruction zi;
                ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
                unsigned m = s[i].bits == 16 ? 0 : s[i].bits == 32 ? 1 : 2;
                ZydisDecoderDecodeFull(&zd[m], s[i].bytes, s[i].n, &zi, ops);
                sink += zi.length;
            }
        }
        double t2 = now_ns();
        double n = (double)count * rounds;
        if ((t1 - t0) / n < best_tv)
            best_tv = (t1 - t0) / n;
        if ((t2 - t1) / n < best_zy)
            best_zy = (t2 - t1) / n;
    }
    (void)sink;
    printf("bench: trapvisor=%.1f zydis=%.1f ns/insn\n", best_tv, best_zy);
    return 0;
}

int main(int argc, char **argv)
{
    bool do_bench = false;
    unsigned rounds = 20;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bench") == 0) {
            do_bench = true;
            if (i + 1 < argc && atoi(argv[i + 1]) > 0)
                rounds = (unsigned)atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: x86dec [--bench [rounds]] < lines\n");
            return 2;
        }
    }

    char *line = NULL;
    size_t cap = 0;
    struct sample *samples = NULL;
    size_t count = 0, alloc = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        unsigned bits;
        uint8_t bytes[X86DEC_MAX_BYTES];
        size_t n;
        bool ok = x86dec_parse_line(line, &bits, bytes, &n);
        if (!do_bench) {
            if (ok)
                print_one(bits, bytes, n);
            else
                printf("error=invalid\n");
            continue;
        }
        if (!ok)
            continue;
        if (count == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            struct sample *ns = realloc(samples, alloc * sizeof *samples);
            if (!ns) {
                fprintf(stderr, "x86dec: out of memory\n");
                return 1;
            }
            samples = ns;
        }
        memcpy(samples[count].bytes, bytes, n);
        samples[count].n = (uint8_t)n;
        samples[count].bits = (uint8_t)bits;
        count++;
    }
    free(line);
    int rc = do_bench ? bench(samples, count, rounds) : 0;
    free(samples);
    fflush(stdout);
    return rc;
}
