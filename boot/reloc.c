/* See reloc.h. */
#include "boot/reloc.h"

static enum reloc_status find_table(const uint8_t *image, size_t image_size, size_t dyn_offset,
                                    const struct elf64_rela **rela, size_t *count)
{
    if (dyn_offset > image_size || image_size - dyn_offset < sizeof(struct elf64_dyn))
        return RELOC_OUT_OF_IMAGE;
    uint64_t rela_off = 0, rela_size = 0, rela_ent = sizeof(struct elf64_rela);
    int have_rela = 0, have_size = 0;
    size_t max = (image_size - dyn_offset) / sizeof(struct elf64_dyn);
    const struct elf64_dyn *d = (const struct elf64_dyn *)(const void *)(image + dyn_offset);
    for (size_t i = 0; i < max && d[i].tag != ELF_DT_NULL; i++) {
        if (d[i].tag == ELF_DT_RELA) {
            rela_off = d[i].val;
            have_rela = 1;
        } else if (d[i].tag == ELF_DT_RELASZ) {
            rela_size = d[i].val;
            have_size = 1;
        } else if (d[i].tag == ELF_DT_RELAENT) {
            rela_ent = d[i].val;
        }
    }
    if (!have_rela || !have_size)
        return RELOC_NO_TABLE;
    if (rela_ent != sizeof(struct elf64_rela))
        return RELOC_BAD_ENTSZ;
    if (rela_off > image_size || rela_size > image_size - rela_off ||
        rela_size % sizeof(struct elf64_rela) || (rela_off & 7))
        return RELOC_OUT_OF_IMAGE;
    *rela = (const struct elf64_rela *)(const void *)(image + rela_off);
    *count = rela_size / sizeof(struct elf64_rela);
    return RELOC_OK;
}

enum reloc_status reloc_rebase(uint8_t *image, size_t image_size, size_t dyn_offset, int64_t delta)
{
    const struct elf64_rela *rela;
    size_t count;
    enum reloc_status st = find_table(image, image_size, dyn_offset, &rela, &count);
    if (st != RELOC_OK)
        return st;
    for (size_t i = 0; i < count; i++) {
        uint32_t type = (uint32_t)rela[i].info;
        if (type == ELF_R_X86_64_NONE)
            continue;
        if (type != ELF_R_X86_64_RELATIVE)
            return RELOC_BAD_TYPE;
        if (rela[i].offset > image_size || image_size - rela[i].offset < 8)
            return RELOC_OUT_OF_IMAGE;
    }
    for (size_t i = 0; i < count; i++) {
        if ((uint32_t)rela[i].info != ELF_R_X86_64_RELATIVE)
            continue;
        uint8_t *p = image + rela[i].offset;
        uint64_t w = 0;
        for (int b = 7; b >= 0; b--)
            w = (w << 8) | p[b];
        w += (uint64_t)delta;
        for (int b = 0; b < 8; b++)
            p[b] = (uint8_t)(w >> (8 * b));
    }
    return RELOC_OK;
}
