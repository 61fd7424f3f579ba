/* Status codes of every ept/ operation: 0 is success, negative values are errors.
 * An operation that returns an error has changed nothing. */
#ifndef TRAPVISOR_EPT_STATUS_H
#define TRAPVISOR_EPT_STATUS_H

enum ept_status {
    EPT_OK = 0,
    EPT_ERR_ALIGN = -1,     /* address or size not a 4 KiB multiple */
    EPT_ERR_RANGE = -2,     /* size 0, wraps, or beyond MAXPHYADDR / the 48-bit EPT reach */
    EPT_ERR_OVERLAP = -3,   /* intersects a region of another kind or owner */
    EPT_ERR_HIDDEN = -4,    /* would expose or trap part of the hidden region */
    EPT_ERR_NOMEM = -5,     /* the page-table pool is exhausted */
    EPT_ERR_FULL = -6,      /* a fixed-capacity table (ranges, regions) is full */
    EPT_ERR_NOT_FOUND = -7, /* no region at that address */
    EPT_ERR_TOO_BIG = -8,   /* the change needs more new tables than one operation may take */
    EPT_ERR_INVAL = -9,     /* other bad argument (type, permission, capability) */
};

/* A short name for a status ("ok", "unaligned", ...), for log lines. */
const char *ept_status_name(int status);

#endif
