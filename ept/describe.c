/* Human-readable EPT walk results for the hypervisor's debug output. See ept/ept.h. */
#include "ept/ept.h"
#include "lib/fmt.h"

const char *mem_type_name(uint8_t type)
{
    switch (type) {
    case MEM_TYPE_UC:
        return "UC";
    case MEM_TYPE_WC:
        return "WC";
    case MEM_TYPE_WT:
        return "WT";
    case MEM_TYPE_WP:
        return "WP";
    case MEM_TYPE_WB:
        return "WB";
    default:
        return "??";
    }
}

static const char *page_size_name(uint64_t size)
{
    switch (size) {
    case EPT_PAGE_4K:
        return "4K";
    case EPT_PAGE_2M:
        return "2M";
    case EPT_PAGE_1G:
        return "1G";
    default:
        return "512G";
    }
}

int ept_leaf_describe(uint64_t gpa, const struct ept_leaf *l, char *buf, size_t size)
{
    if (!l->present)
        return fmt_snprintf(buf, size, "gpa 0x%llx not present (%s)", (unsigned long long)gpa,
                            page_size_name(l->page_size));
    char perm[4] = {(l->perm & EPT_PERM_R) ? 'R' : '-', (l->perm & EPT_PERM_W) ? 'W' : '-',
                    (l->perm & EPT_PERM_X) ? 'X' : '-', 0};
    return fmt_snprintf(buf, size, "gpa 0x%llx -> hpa 0x%llx %s %s %s%s", (unsigned long long)gpa,
                        (unsigned long long)l->hpa, page_size_name(l->page_size), perm,
                        mem_type_name(l->mem_type), l->ignore_pat ? " IPAT" : "");
}
