#!/usr/bin/env bash
# check-linux.sh: Linux as a guest (issue 6), judged from the serial transcript.
#
# Usage: tests/linux/check-linux.sh [RIG ...]      (default: $LINUX_RIGS, else "qemu")
#   qemu   QEMU TCG + OVMF, 2 CPUs, QEMU's own edu: every edutest check must pass
#   bochs  Bochs 3.0 (chroot) + OVMF, 2 CPUs, an MP table written from the shell. Without
#          Trapvisor there is no edu device: the run must reach userspace with both CPUs
#          online and edutest must print its summary; with LINUX_TRAPVISOR_EFI=build/trapvisor.efi
#          Trapvisor is started first and every check must pass, as on QEMU.
# Environment: BUILD (default build), LINUX_OPS (MMIO operations per CPU, default 10000),
#   LINUX_MIN_CHECKS (fewest edutest checks a full pass must have, default 50),
#   LINUX_TRAPVISOR_EFI (see above), LINUX_QEMU_TIMEOUT / LINUX_BOCHS_TIMEOUT (seconds),
#   LINUX_UPDATE_REFERENCE=1 (rewrite tests/linux/edutest-reference.txt from the QEMU run),
#   LINUX_APPEND (more kernel command-line arguments, e.g. "nox2apic").
# Prints the time to userspace (kernel's /proc/uptime and wall clock from emulator start).
# Transcripts: $BUILD/linux/<rig>.serial; the runners' output: $BUILD/linux/<rig>.log.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
OUTDIR=$BUILD/linux
KERNEL=$OUTDIR/kernel/vmlinuz
INITRD=$OUTDIR/initrd.gz
OPS=${LINUX_OPS:-10000}
MIN_CHECKS=${LINUX_MIN_CHECKS:-50}
RIGS=${*:-${LINUX_RIGS:-qemu}}
fail=0

REFERENCE=tests/linux/edutest-reference.txt

say() { echo "check-linux: $*"; }

# The check lines of a transcript, without the Trapvisor-only statistics checks.
normalize() {
    grep -E '^edutest: .* \.\.\. (ok|FAIL)$' | grep -vE '^edutest: (concurrent-)?stats-'
}

# judge RIG SERIAL NEED_ALL_PASS START_EPOCH USERSPACE_EPOCH
judge() {
    local rig=$1 serial=$2 need_all=$3 t0=$4 tu=$5 ok=1 text summary passed failed up
    text=$(tr -d '\r' <"$serial" | sed 's/\x1b\[[0-9;=]*[A-Za-z]//g')
    grep '^linux: \|^edutest: ' <<<"$text" | sed "s/^/  [$rig] /"
    up=$(sed -n 's/^linux: userspace at \([0-9.]*\) s.*/\1/p' <<<"$text" | head -n 1)
    if [ -z "$up" ]; then
        say "$rig: FAIL: Linux never reached userspace"
        return 1
    fi
    if [ -n "$tu" ]; then
        say "$rig: time to userspace: ${up} s after kernel start (uptime), $((tu - t0)) s after emulator start (wall clock)"
    else
        say "$rig: time to userspace: ${up} s after kernel start (uptime)"
    fi
    grep -qx 'linux: online cpus 0-1' <<<"$text" || { say "$rig: FAIL: want 'linux: online cpus 0-1'"; ok=0; }
    # Under Trapvisor: the OS's memory map never offers Trapvisor's region as RAM (the region
    # is the "plan: hypervisor region A-B" line Trapvisor printed before the kernel started).
    local region rs re nram=0 a b
    region=$(sed -n 's/^plan: hypervisor region \(0x[0-9a-f]*\)-\(0x[0-9a-f]*\) .*/\1 \2/p' <<<"$text" | head -n 1)
    if [ -n "$region" ]; then
        read -r rs re <<<"$region"
        while read -r a b; do
            nram=$((nram + 1))
            if ((0x$a <= re && 0x$b >= rs)); then
                say "$rig: FAIL: Linux uses Trapvisor's region $rs-$re as System RAM ($a-$b)"
                ok=0
            fi
        done < <(sed -n 's/^linux: iomem: \([0-9a-f]*\)-\([0-9a-f]*\) : System RAM$/\1 \2/p' <<<"$text")
        if [ "$nram" -gt 0 ]; then
            say "$rig: Trapvisor's region $rs-$re is outside all $nram System RAM ranges of Linux"
        else
            say "$rig: FAIL: no System RAM lines from /proc/iomem"
            ok=0
        fi
    fi
    # One summary per edutest pass (the main one, and --intx where it runs): add them up.
    summary=$(grep -E '^edutest: [0-9]+ passed, [0-9]+ failed$' <<<"$text")
    if [ -z "$summary" ]; then
        say "$rig: FAIL: no edutest summary line"
        return 1
    fi
    passed=$(awk '{p += $2} END {print p}' <<<"$summary")
    failed=$(awk '{f += $4} END {print f}' <<<"$summary")
    summary="edutest: $passed passed, $failed failed"
    if [ "$need_all" = 1 ]; then
        # Every check line must be ok, the count must match the summary, and the driver must
        # have loaded and unloaded cleanly.
        local nok nfail
        nok=$(grep -cE '^edutest: .* \.\.\. ok$' <<<"$text")
        nfail=$(grep -cE '^edutest: .* \.\.\. FAIL$' <<<"$text")
        [ "$failed" = 0 ] && [ "$nfail" = 0 ] || { say "$rig: FAIL: $failed edutest checks failed"; ok=0; }
        [ "$nok" = "$passed" ] || { say "$rig: FAIL: $nok ok lines but summary says $passed"; ok=0; }
        [ "$passed" -ge "$MIN_CHECKS" ] || { say "$rig: FAIL: only $passed checks ran (want >= $MIN_CHECKS)"; ok=0; }
        grep -qx 'linux: edu module loaded' <<<"$text" || { say "$rig: FAIL: module did not load"; ok=0; }
        grep -qx 'linux: edu module removed' <<<"$text" || { say "$rig: FAIL: module did not unload"; ok=0; }
        if grep -qE '^linux: (rmmod edu failed|insmod edu.ko msi=0 failed)' <<<"$text"; then
            say "$rig: FAIL: the INTx pass could not load or unload the driver"
            ok=0
        fi
        grep -q '^edutest: concurrent: ' <<<"$text" || [ "$OPS" = 0 ] || { say "$rig: FAIL: no concurrency run"; ok=0; }
    fi
    if [ "$need_all" = 1 ]; then
        # The check list must match the reference taken on QEMU's edu (tests/linux/
        # edutest-reference.txt), so a check that silently stops running is caught. The
        # statistics checks exist only under Trapvisor and are left out of the comparison.
        normalize <<<"$text" >"$OUTDIR/$rig.checks"
        if [ "$rig" = qemu ]; then
            cp "$REFERENCE" "$OUTDIR/$rig.reference"
        else # the INTx pass runs only on QEMU (linux-image.sh)
            grep -v '^edutest: intx-' "$REFERENCE" >"$OUTDIR/$rig.reference"
        fi
        if [ "${LINUX_UPDATE_REFERENCE:-0}" = 1 ] && [ "$rig" = qemu ]; then
            cp "$OUTDIR/$rig.checks" "$REFERENCE"
            say "$rig: reference updated: $REFERENCE"
        elif ! diff -u "$OUTDIR/$rig.reference" "$OUTDIR/$rig.checks" >"$OUTDIR/$rig.checks.diff"; then
            say "$rig: FAIL: check list differs from $REFERENCE:"
            cat "$OUTDIR/$rig.checks.diff"
            ok=0
        fi
    fi
    if grep -qE 'Kernel panic|BUG: |Oops' <<<"$text"; then
        say "$rig: FAIL: kernel panic/BUG/Oops on the console"
        ok=0
    fi
    [ $ok = 1 ] && say "$rig: ok ($summary)"
    [ $ok = 1 ]
}

# run_watch WATCH CAPTURE PATTERN CMD...: runs CMD in the background with its output in
# CAPTURE and records when PATTERN first appears in WATCH (the serial file, or CAPTURE when
# the runner writes the serial file only at the end): sets RUN_RC and RUN_TU (epoch seconds,
# empty if never).
run_watch() {
    local watch=$1 capture=$2 pattern=$3
    shift 3
    : >"$capture"
    : >"$watch" # a transcript of an earlier run must not count
    "$@" >"$capture" 2>&1 &
    local pid=$!
    RUN_TU=""
    while kill -0 "$pid" 2>/dev/null; do
        if [ -z "$RUN_TU" ] && grep -aq "$pattern" "$watch" 2>/dev/null; then
            RUN_TU=$(date +%s)
        fi
        sleep 0.5
    done
    wait "$pid"
    RUN_RC=$?
    if [ -z "$RUN_TU" ] && grep -aq "$pattern" "$watch" 2>/dev/null; then
        RUN_TU=$(date +%s)
    fi
    grep -aE '^(bochs|linux-qemu|qemu-system-x86_64): ' "$capture" | sed 's/^/  /'
}

for rig in $RIGS; do
    case "$rig" in
    qemu)
        img=$OUTDIR/linux-qemu.img
        serial=$OUTDIR/qemu.serial
        tools/rig/linux-image.sh "$img" --kernel "$KERNEL" --initrd "$INITRD" --rig qemu \
            --ops "$OPS" --append "${LINUX_APPEND:-}" || { fail=1; continue; }
        t0=$(date +%s)
        run_watch "$serial" "$OUTDIR/qemu.log" '^linux: userspace' tools/rig/linux-qemu.sh --image "$img" \
            --serial "$serial" --cpus 2 --timeout "${LINUX_QEMU_TIMEOUT:-240}"
        say "qemu: run took $(($(date +%s) - t0)) s, QEMU exit status $RUN_RC"
        judge qemu "$serial" 1 "$t0" "$RUN_TU" || fail=1
        ;;
    bochs)
        img=$OUTDIR/linux-bochs.img
        serial=$OUTDIR/bochs.serial
        tv_args=()
        need_all=0
        if [ -n "${LINUX_TRAPVISOR_EFI:-}" ]; then
            tv_args=(--trapvisor "$LINUX_TRAPVISOR_EFI")
            need_all=1
        fi
        tools/rig/linux-image.sh "$img" --kernel "$KERNEL" --initrd "$INITRD" --rig bochs \
            --cpus 2 --ops "$OPS" --append "${LINUX_APPEND:-}" "${tv_args[@]}" || { fail=1; continue; }
        [ -x tools/rig/bochs.sh ] || { say "bochs: FAIL: tools/rig/bochs.sh is missing"; fail=1; continue; }
        t0=$(date +%s)
        # bochs.sh writes the serial file when the run ends; --live streams it meanwhile.
        run_watch "$OUTDIR/bochs.log" "$OUTDIR/bochs.log" '^linux: userspace' \
            tools/rig/bochs.sh --image "$img" --serial "$serial" \
            --cpus 2 --bochs 3 --timeout "${LINUX_BOCHS_TIMEOUT:-600}" --live \
            --until '^linux: done at' --fail 'Kernel panic'
        say "bochs: run took $(($(date +%s) - t0)) s, bochs.sh exit status $RUN_RC"
        [ $need_all = 1 ] || say "bochs: without Trapvisor (make LINUX_TRAPVISOR=build/trapvisor.efi, or LINUX_TRAPVISOR_EFI for this script): no edu device, edutest failures expected"
        judge bochs "$serial" "$need_all" "$t0" "$RUN_TU" || fail=1
        ;;
    *)
        say "unknown rig '$rig' (qemu, bochs)"
        fail=1
        ;;
    esac
done
[ $fail = 0 ] && say "all passed ($RIGS)"
exit $fail
