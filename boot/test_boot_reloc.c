/* Host tests for boot/reloc.c: re-applying RELATIVE relocations to a copied image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "boot/reloc.h"

/* A fake image: _DYNAMIC at 0x100, the .rela table at 0x200, relocated words at 0x400.. */
#define IMG_SIZE 0x1000
struct fake {
    uint8_t img[IMG_SIZE] __attribute__((aligned(8)));
};

static void put_dyn(struct fake *f, unsigned i, int64_t tag, uint64_t val)
{
    struct elf64_dyn d = {tag, val};
    memcpy(f->img + 0x100 + i * sizeof(d), &d, sizeof(d));
}

static void put_rela(struct fake *f, unsigned i, uint64_t off, uint32_t type, int64_t addend)
{
    struct elf64_rela r = {off, type, addend};
    memcpy(f->img + 0x200 + i * sizeof(r), &r, sizeof(r));
}

static uint64_t word(const struct fake *f, uint64_t off)
{
    uint64_t w;
    memcpy(&w, f->img + off, 8);
    return w;
}

static void set_word(struct fake *f, uint64_t off, uint64_t w)
{
    memcpy(f->img + off, &w, 8);
}

static void make(struct fake *f, unsigned nrela)
{
    memset(f, 0, sizeof(*f));
    put_dyn(f, 0, ELF_DT_RELA, 0x200);
    put_dyn(f, 1, ELF_DT_RELASZ, nrela * sizeof(struct elf64_rela));
    put_dyn(f, 2, ELF_DT_RELAENT, sizeof(struct elf64_rela));
    put_dyn(f, 3, ELF_DT_NULL, 0);
}

static void relative_words_move_by_delta_and_nothing_else(void **state)
{
    (void)state;
    struct fake f;
    make(&f, 3);
    put_rela(&f, 0, 0x400, ELF_R_X86_64_RELATIVE, 0x10);
    put_rela(&f, 1, 0x408, ELF_R_X86_64_NONE, 0);
    put_rela(&f, 2, 0x413, ELF_R_X86_64_RELATIVE, 0x20); /* unaligned word */
    set_word(&f, 0x400, 0x7000010);                      /* old base 0x7000000 + addend */
    set_word(&f, 0x408, 0x1234);
    set_word(&f, 0x413, 0x7000020);
    set_word(&f, 0x420, 0x7000030); /* not named by any relocation */
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, 0x100, 0x100000 - 0x7000000), RELOC_OK);
    assert_int_equal(word(&f, 0x400), 0x100010);
    assert_int_equal(word(&f, 0x408), 0x1234);
    assert_int_equal(word(&f, 0x413), 0x100020);
    assert_int_equal(word(&f, 0x420), 0x7000030);
}

static void negative_delta_wraps_like_the_cpu(void **state)
{
    (void)state;
    struct fake f;
    make(&f, 1);
    put_rela(&f, 0, 0x400, ELF_R_X86_64_RELATIVE, 0);
    set_word(&f, 0x400, 0x5000);
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, 0x100, -0x3000), RELOC_OK);
    assert_int_equal(word(&f, 0x400), 0x2000);
}

static void other_relocation_types_are_refused_before_any_change(void **state)
{
    (void)state;
    struct fake f;
    make(&f, 2);
    put_rela(&f, 0, 0x400, ELF_R_X86_64_RELATIVE, 0);
    put_rela(&f, 1, 0x408, 1 /* R_X86_64_64 */, 0);
    set_word(&f, 0x400, 0x1000);
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, 0x100, 0x10), RELOC_BAD_TYPE);
    assert_int_equal(word(&f, 0x400), 0x1000);
}

static void a_relocation_outside_the_image_is_refused(void **state)
{
    (void)state;
    struct fake f;
    make(&f, 2);
    put_rela(&f, 0, 0x400, ELF_R_X86_64_RELATIVE, 0);
    put_rela(&f, 1, IMG_SIZE - 4, ELF_R_X86_64_RELATIVE, 0); /* straddles the end */
    set_word(&f, 0x400, 0x1000);
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, 0x100, 0x10), RELOC_OUT_OF_IMAGE);
    assert_int_equal(word(&f, 0x400), 0x1000);
}

static void a_table_outside_the_image_is_refused(void **state)
{
    (void)state;
    struct fake f;
    make(&f, 1);
    put_dyn(&f, 1, ELF_DT_RELASZ, 0x10000); /* runs past the end */
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, 0x100, 0x10), RELOC_OUT_OF_IMAGE);
    make(&f, 1);
    put_dyn(&f, 0, ELF_DT_RELA, ~0ull - 8); /* offset + size would wrap */
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, 0x100, 0x10), RELOC_OUT_OF_IMAGE);
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, IMG_SIZE - 8, 0x10), RELOC_OUT_OF_IMAGE);
}

static void a_wrong_entry_size_or_missing_table_is_reported(void **state)
{
    (void)state;
    struct fake f;
    make(&f, 1);
    put_dyn(&f, 2, ELF_DT_RELAENT, 16);
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, 0x100, 0x10), RELOC_BAD_ENTSZ);
    make(&f, 1);
    put_dyn(&f, 0, ELF_DT_NULL, 0); /* _DYNAMIC ends at once */
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, 0x100, 0x10), RELOC_NO_TABLE);
}

static void a_dynamic_section_without_terminator_stays_inside_the_image(void **state)
{
    (void)state;
    struct fake f;
    memset(&f, 0x41, sizeof(f)); /* no DT_NULL anywhere: tags are all 0x4141... */
    assert_int_equal(reloc_rebase(f.img, IMG_SIZE, 0x100, 0x10), RELOC_NO_TABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(relative_words_move_by_delta_and_nothing_else),
        cmocka_unit_test(negative_delta_wraps_like_the_cpu),
        cmocka_unit_test(other_relocation_types_are_refused_before_any_change),
        cmocka_unit_test(a_relocation_outside_the_image_is_refused),
        cmocka_unit_test(a_table_outside_the_image_is_refused),
        cmocka_unit_test(a_wrong_entry_size_or_missing_table_is_reported),
        cmocka_unit_test(a_dynamic_section_without_terminator_stays_inside_the_image),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
