#!/usr/bin/env bash
# edutest-normalize.sh: turn a serial log holding an edutest run into its normalized
# transcript, the form kept in tests/qemu/edutest-reference*.txt.
#
# Usage:  tools/rig/edutest-normalize.sh [LOG]      (standard input when LOG is absent)
#
# Keeps only edutest's own lines (from "edutest: " to the end of the line), after removing
# carriage returns and terminal escape sequences the UEFI console adds, and masks everything
# that depends on the machine rather than on the device:
#   bus:dev.fn slots          00:02.0            -> BB:DD.F
#   bar0=, base=, buffer=     0xc1000000         -> bar0=ADDR ...
#   buses=                    00-ff              -> buses=RANGE
#   segment=                  0                  -> segment=N
#   vector=, apic-id=         0x40, 0            -> vector=N apic-id=N
#   apic-mode=                xapic | x2apic     -> apic-mode=MODE
# Check lines ("edutest: <check> ... ok|FAIL"), the failure details under them and the
# verdict line are kept as they are, so any behavioural difference shows in a diff. The
# Trapvisor rig runs this on its own serial log and compares with the same reference files.
set -euo pipefail

in=${1:--}
[ "$in" = - ] || [ -f "$in" ] || { echo "edutest-normalize: no such file: $in" >&2; exit 1; }

cat -- "$in" |
    LC_ALL=C tr -d '\r' |
    LC_ALL=C sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' |
    LC_ALL=C grep -ao 'edutest: .*' |
    LC_ALL=C sed -E \
        -e 's/\b[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\b/BB:DD.F/g' \
        -e 's/\b(bar0|base|buffer)=0x[0-9a-fA-F]+/\1=ADDR/g' \
        -e 's/\bbuses=[0-9a-f]{2}-[0-9a-f]{2}/buses=RANGE/g' \
        -e 's/\b(segment|vector|apic-id)=(0x)?[0-9a-fA-F]+/\1=N/g' \
        -e 's/\bapic-mode=[a-z0-9]+/apic-mode=MODE/g' \
        -e 's/[[:space:]]+$//' || true
