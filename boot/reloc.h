/* Re-applying the ELF RELATIVE relocations of a copied image.
 *
 * gnu-efi applications are ELF shared objects linked at 0 whose crt0 applies their
 * R_X86_64_RELATIVE relocations once, at load (gnu-efi's _relocate over _DYNAMIC). Trapvisor
 * copies its loaded image into memory the OS never reclaims and runs from the copy; every
 * relocated word in the copy then still points into the old image. reloc_rebase() walks
 * the same .rela table and adds (new - old) to each of them. Pure C, host-tested. */
#ifndef TRAPVISOR_BOOT_RELOC_H
#define TRAPVISOR_BOOT_RELOC_H

#include <stddef.h>
#include <stdint.h>

/* ELF64 dynamic-section and relocation entries (System V gABI, x86-64 psABI). */
struct elf64_dyn {
    int64_t tag;
    uint64_t val;
};
struct elf64_rela {
    uint64_t offset;
    uint64_t info;
    int64_t addend;
};
#define ELF_DT_NULL           0
#define ELF_DT_RELA           7
#define ELF_DT_RELASZ         8
#define ELF_DT_RELAENT        9
#define ELF_R_X86_64_NONE     0
#define ELF_R_X86_64_RELATIVE 8

enum reloc_status {
    RELOC_OK,
    RELOC_NO_TABLE,     /* _DYNAMIC has no DT_RELA/DT_RELASZ (nothing to do: also fine) */
    RELOC_BAD_ENTSZ,    /* DT_RELAENT is not sizeof(struct elf64_rela) */
    RELOC_OUT_OF_IMAGE, /* the table or a relocated word lies outside the image */
    RELOC_BAD_TYPE,     /* a relocation other than NONE or RELATIVE */
};

/* `image` is the copy (image_size bytes); `dyn_offset` is _DYNAMIC's offset in it. Adds
 * `delta` to each 64-bit word named by a RELATIVE relocation. On any error nothing has been
 * changed (the table is validated first). */
enum reloc_status reloc_rebase(uint8_t *image, size_t image_size, size_t dyn_offset, int64_t delta);

#endif
