#!/usr/bin/env bash
# run-edutest.sh: run edutest.efi in QEMU (TCG) + OVMF against QEMU's real edu device and
# judge the transcript; or check edutest's behaviour without the device.
#
# Usage:  tests/qemu/run-edutest.sh check  MACHINE IMG REFERENCE
#         tests/qemu/run-edutest.sh update MACHINE IMG REFERENCE
#         tests/qemu/run-edutest.sh noedu  MACHINE IMG
#
#   check   every check ok, at least EDUTEST_MIN_CHECKS (25) of them, the verdict line
#           agrees with the check lines, QEMU exited 0 (startup.nsh powers off only when
#           edutest returned EFI_SUCCESS), and the normalized transcript equals REFERENCE
#           (a unified diff is printed otherwise)
#   update  the same run and the same pass requirements, then REFERENCE is rewritten
#   noedu   QEMU without -device edu: edutest must report "no 1234:11e8 function found"
#           and "0 passed, 1 failed", and fail (QEMU exit 3 through isa-debug-exit)
# MACHINE is q35 or pc. Logs go to build/qemu/edutest-<MACHINE|noedu>.log.
# Environment: EDUTEST_MIN_CHECKS (25), EDUTEST_QEMU_TIMEOUT (180 s per QEMU run).
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:?usage: $0 check|update|noedu MACHINE IMG [REFERENCE]}
machine=${2:?machine}
img=${3:?image}
ref=${4:-}
min_checks=${EDUTEST_MIN_CHECKS:-25}
timeout_s=${EDUTEST_QEMU_TIMEOUT:-180} # generous: 2 shared cores, TCG
tag=$machine
[ "$mode" = noedu ] && tag=noedu
log=build/qemu/edutest-$tag.log
norm=build/qemu/edutest-$tag.normalized.txt
mkdir -p build/qemu

fail() {
    echo "qemu-edutest($tag): FAIL: $*" >&2
    exit 1
}

start=$(date +%s)
rig_args=(-m "$machine" -l "$log" -t "$timeout_s")
[ "$mode" = noedu ] && rig_args+=(--no-edu -q)
set +e
tools/rig/qemu.sh "${rig_args[@]}" "$img"
rc=$?
set -e
secs=$(($(date +%s) - start))
tools/rig/edutest-normalize.sh "$log" >"$norm"

if [ "$mode" = noedu ]; then
    [ $rc -eq 3 ] || fail "QEMU exit status $rc, want 3 (edutest must fail without edu)"
    grep -qx 'edutest: no 1234:11e8 function found' "$norm" || fail "no 'not found' line"
    [ "$(tail -n 1 "$norm")" = "edutest: 0 passed, 1 failed" ] || fail "last line: $(tail -n 1 "$norm")"
    echo "qemu-edutest(noedu): ok: no edu -> '0 passed, 1 failed', error status (${secs}s)"
    exit 0
fi

[ $rc -eq 0 ] || fail "QEMU exit status $rc (3: edutest returned an error; 124: timeout)"
ok=$(grep -c '^edutest: [a-z0-9-]* \.\.\. ok$' "$norm" || true)
bad=$(grep -c '^edutest: [a-z0-9-]* \.\.\. FAIL$' "$norm" || true)
last=$(tail -n 1 "$norm")
[ "$bad" -eq 0 ] || { grep -A1 'FAIL$' "$norm" >&2; fail "$bad checks failed"; }
[ "$last" = "edutest: $ok passed, 0 failed" ] || fail "verdict '$last' does not match $ok ok lines"
[ "$ok" -ge "$min_checks" ] || fail "only $ok checks, want at least $min_checks"

if [ "$mode" = update ]; then
    cp "$norm" "$ref"
    echo "qemu-edutest($tag): reference $ref updated ($ok checks, ${secs}s)"
    exit 0
fi
[ -f "$ref" ] || fail "no reference $ref (make update-edutest-reference)"
if ! diff -u "$ref" "$norm" >&2; then
    fail "normalized transcript differs from $ref (above: - reference, + this run)"
fi
echo "qemu-edutest($tag): ok: $ok checks passed, transcript matches $ref (${secs}s)"
