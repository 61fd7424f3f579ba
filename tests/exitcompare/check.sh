#!/usr/bin/env bash
# tests/exitcompare/check.sh: exitcompare and the bench-compare / bench-kvm commands on real
# outputs, each part that can run on a machine without VT-x or KVM.
#
#   check.sh tool EXITCOMPARE QEMU_OUT   exitcompare with the stored Trapvisor Bochs result
#                                        (trapvisor-bochs-exits.txt) as the Trapvisor side and
#                                        check-qemu-exitbench's QEMU run (serial log, then CSV)
#                                        as the KVM side: table rows, both verdict lines, exit
#                                        0; then every kind of bad input: one line, exit 2
#   check.sh writer EXITCOMPARE QEMU_OUT bench-compare.sh on a copy of docs/benchmarks.md in a
#                                        temp dir: the section between the realhw markers,
#                                        everything outside them unchanged, a second run
#                                        replaces it, refused input leaves the file as it was,
#                                        missing markers are created after the exitbench
#                                        section; the real docs/benchmarks.md is never touched
#   check.sh kvm-refusal                 make bench-kvm's script without /dev/kvm and on a
#                                        non-Intel CPU: one line each, exit 1, at once
#   check.sh kvm-standin EXITCOMPARE EXITBENCH_EFI TRAPVISOR_EFI
#                                        make bench-kvm's steps with a TCG stand-in for KVM
#                                        (tcg-as-kvm-qemu.sh): nested VMX off, then on
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:?usage: $0 tool|writer|kvm-refusal ...}
fixture=tests/exitcompare/trapvisor-bochs-exits.txt
tmp=$(mktemp -d "${TMPDIR:-/tmp}/exitcompare-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
checks=0

fail() {
    echo "check-exitcompare($mode): FAIL: $*" >&2
    exit 1
}
ok() { checks=$((checks + 1)); }

# expect_refusal STATUS WHAT CMD...: CMD exits STATUS with exactly one line on stderr, none on
# stdout; the line is left in $tmp/err.
expect_refusal() {
    local want=$1 what=$2 rc=0
    shift 2
    timeout 20 "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "$what: exit $rc, want $want ($(cat "$tmp/err"))"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: $(wc -l <"$tmp/err") lines on stderr, want 1: $(cat "$tmp/err")"
    [ ! -s "$tmp/out" ] || fail "$what: printed to stdout: $(head -n 3 "$tmp/out")"
    ok
}

case $mode in
tool)
    ec=${2:?exitcompare}
    q=${3:?QEMU output folder}
    [ -f "$q/serial.log" ] && [ -f "$q/exitbench.csv" ] || fail "no QEMU run in $q (make check-qemu-exitbench)"
    for kvm in "$q/serial.log" "$q/exitbench.csv"; do
        rc=0
        "$ec" "$fixture" "$kvm" >"$tmp/out" 2>"$tmp/err" || rc=$?
        [ "$rc" -eq 0 ] || fail "exitcompare $fixture $kvm: exit $rc: $(cat "$tmp/err")"
        # The stored Trapvisor run: 273 / 103 = 2.6504 -> 2.66x (rounded up), not met.
        grep -qx 'target: mmio-read-edu <= 1.3x cpuid under Trapvisor: 2.66x: not met' "$tmp/out" ||
            fail "no first verdict line for the stored run: $(grep '^target' "$tmp/out")"
        kvm_mmio=$(sed -n 's/^exitbench: op=mmio-read-edu .* median=\([0-9]*\) .*/\1/p' "$q/ops.txt")
        verdict=met
        [ "$kvm_mmio" -ge $((10 * 273)) ] || verdict="not met"
        grep -Eqx "target: mmio-read-edu on QEMU's edu under KVM >= 10x Trapvisor's: [0-9]+\.[0-9]{2}x: $verdict" "$tmp/out" ||
            fail "no second verdict line ($verdict for $kvm_mmio vs 273): $(grep '^target' "$tmp/out")"
        [ "$(grep -c '^target: ' "$tmp/out")" -eq 2 ] || fail "not exactly two verdict lines"
        grep -qx "| \`cpuid\` | 103 | [0-9]* | [0-9]*\.[0-9][0-9]x | 500 / ${EXITBENCH_CHECK_N:-200} |" "$tmp/out" ||
            fail "no cpuid row with both sides: $(grep cpuid "$tmp/out")"
        grep -qx '| `vmcall` | 151 | - | - | 500 / - |' "$tmp/out" ||
            fail "vmcall must be Trapvisor-only: $(grep vmcall "$tmp/out")"
        grep -qx '| `stats-read` | 22 | - | - | 500 / - |' "$tmp/out" ||
            fail "stats-read must be Trapvisor-only: $(grep stats-read "$tmp/out")"
        ok
    done
    cp "$tmp/out" "$tmp/good"

    # Bad input: one "exitcompare: ..." line and exit 2 each.
    expect_refusal 2 "missing file" "$ec" "$fixture" "$tmp/absent.csv"
    grep -q "^exitcompare: cannot read '$tmp/absent.csv': No such file or directory$" "$tmp/err" || fail "missing file: $(cat "$tmp/err")"
    expect_refusal 2 "swapped inputs" "$ec" "$q/serial.log" "$fixture"
    grep -q 'inputs swapped?' "$tmp/err" || fail "swapped inputs: $(cat "$tmp/err")"
    printf 'Shell> exitbench.efi\r\nexitbench: hypervisor none\r\n' >"$tmp/nolines.log"
    expect_refusal 2 "no op lines" "$ec" "$fixture" "$tmp/nolines.log"
    sed 's/ hv_median=194$//' "$fixture" >"$tmp/malformed.txt"
    expect_refusal 2 "malformed line" "$ec" "$tmp/malformed.txt" "$q/serial.log"
    grep -q "malformed.txt: line 8: malformed op= line" "$tmp/err" || fail "malformed line: $(cat "$tmp/err")"
    { head -n 3 "$q/exitbench.csv"; echo "cpuid,0,x,5"; } >"$tmp/malformed.csv"
    expect_refusal 2 "malformed CSV row" "$ec" "$fixture" "$tmp/malformed.csv"
    grep -v '^mmio-read-edu,' "$q/exitbench.csv" >"$tmp/nommio.csv"
    expect_refusal 2 "operation missing" "$ec" "$fixture" "$tmp/nommio.csv"
    grep -q 'no mmio-read-edu result' "$tmp/err" || fail "operation missing: $(cat "$tmp/err")"
    sed 's/^\(exitbench: op=cpuid\) .*/\1 n=500 min=0 median=0 p99=0 max=0 hv_median=0/' "$fixture" >"$tmp/zero.txt"
    expect_refusal 2 "zero median" "$ec" "$tmp/zero.txt" "$q/serial.log"
    { cat "$q/exitbench.csv"; sed -n 's/^\(cpuid\),0,/\1,1,/p' "$q/exitbench.csv"; } >"$tmp/twocpu.csv"
    expect_refusal 2 "CPU absent" "$ec" --cpu 1 "$fixture" "$tmp/twocpu.csv"
    grep -q 'no results for cpu 1 (CPUs present: 0)' "$tmp/err" || fail "CPU absent: $(cat "$tmp/err")"
    expect_refusal 2 "one file" "$ec" "$fixture"
    expect_refusal 2 "bad option" "$ec" --frobnicate "$fixture" "$q/serial.log"
    # Mixed CPUs: the lowest by default (same result as the one-CPU CSV).
    "$ec" "$fixture" "$tmp/twocpu.csv" >"$tmp/mixed" || fail "mixed CPUs refused"
    diff <(grep -v '^- KVM' "$tmp/good") <(grep -v '^- KVM' "$tmp/mixed") >/dev/null ||
        fail "mixed CPUs: cpu 0 was not the one kept"
    ok
    "$ec" --help | grep -q '^usage: exitcompare' || fail "--help"
    ok
    echo "check-exitcompare: ok: $checks checks (the stored Trapvisor run against QEMU's log and CSV, bad input refused with exit 2)"
    ;;

writer)
    ec=${2:?exitcompare}
    q=${3:?QEMU output folder}
    real=docs/benchmarks.md
    before=$(sha256sum <"$real")
    md=$tmp/benchmarks.md
    cp "$real" "$md"
    write() { tools/exitcompare/bench-compare.sh --exitcompare "$ec" --md "$md" "$@"; }
    outside() { # the file without the realhw section
        python3 -c 'import sys; t=open(sys.argv[1]).read(); b="<!-- realhw:begin -->"; e="<!-- realhw:end -->"; print(t[:t.index(b)] + t[t.index(e):] if b in t else t, end="")' "$1"
    }
    grep -q '<!-- realhw:begin -->' "$md" || fail "docs/benchmarks.md has no realhw section"
    outside "$md" >"$tmp/outside.before"
    write --trapvisor "$fixture" --kvm "$q/exitbench.csv" --machine "Test Machine 1" >/dev/null ||
        fail "bench-compare.sh failed"
    outside "$md" >"$tmp/outside.after"
    diff -u "$tmp/outside.before" "$tmp/outside.after" >&2 || fail "text outside the markers changed"
    section=$(sed -n '/<!-- realhw:begin -->/,/<!-- realhw:end -->/p' "$md")
    for want in '**Test Machine 1**' "\`$fixture\`" "\`$q/exitbench.csv\`" "$(date -u +%Y-%m-%d)" \
        '- target: mmio-read-edu <= 1.3x cpuid under Trapvisor: 2.66x: not met' \
        "- target: mmio-read-edu on QEMU's edu under KVM >= 10x Trapvisor's:" \
        '| `mmio-read-edu` | 273 |' 'make bench-compare TRAPVISOR='; do
        grep -qF -- "$want" <<<"$section" || fail "the section lacks '$want'"
    done
    ok
    # A second run replaces the section: one section, the new machine, not the old one.
    write --trapvisor "$fixture" --kvm "$q/serial.log" --machine "Test Machine 2" --note "A note." >/dev/null ||
        fail "second bench-compare.sh failed"
    [ "$(grep -c '<!-- realhw:begin -->' "$md")" -eq 1 ] || fail "two realhw sections after a second run"
    grep -qF '**Test Machine 2**' "$md" && ! grep -qF 'Test Machine 1' "$md" && grep -qx 'A note.' "$md" ||
        fail "the second run did not replace the section"
    outside "$md" | diff -u "$tmp/outside.before" - >&2 || fail "text outside the markers changed"
    ok
    # Refused input: status 2, the file unchanged.
    cp "$md" "$tmp/kept.md"
    rc=0
    write --trapvisor "$q/serial.log" --kvm "$fixture" >/dev/null 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "swapped inputs: status $rc, want 2"
    cmp -s "$md" "$tmp/kept.md" || fail "refused input changed the file"
    grep -q 'inputs swapped?' "$tmp/err" || fail "no reason printed: $(cat "$tmp/err")"
    ok
    # No markers yet: the section is created right after the exitbench section.
    python3 -c 'import sys,re; t=open(sys.argv[1]).read(); t=re.sub(r"\n## Real hardware and KVM[^\n]*\n<!-- realhw:begin -->.*<!-- realhw:end -->\n", "\n", t, flags=re.S); open(sys.argv[1],"w").write(t)' "$md"
    ! grep -q realhw "$md" || fail "could not strip the section from the copy"
    write --trapvisor "$fixture" --kvm "$q/exitbench.csv" --machine "Test Machine 3" >/dev/null ||
        fail "bench-compare.sh without markers failed"
    grep -A1 -x '<!-- exitbench:end -->' "$md" | tail -n 1 | grep -qx '' &&
        grep -A2 -x '<!-- exitbench:end -->' "$md" | tail -n 1 | grep -qx '## Real hardware and KVM (exitcompare)' ||
        fail "the created section is not right after the exitbench section"
    [ "$(grep -c '<!-- realhw:end -->' "$md")" -eq 1 ] || fail "markers not created once"
    ok
    [ "$(sha256sum <"$real")" = "$before" ] || fail "the real $real was modified"
    echo "check-bench-compare: ok: $checks checks on a copy of $real (written between the markers only, replaced, refused input leaves it, markers created)"
    ;;

kvm-refusal)
    args=(--exitcompare /nonexistent --md /nonexistent --out "$tmp/out.d" --exitbench /nonexistent
        --trapvisor /nonexistent)
    start=$(date +%s)
    expect_refusal 1 "no /dev/kvm" env BENCH_KVM_DEV="$tmp/no-kvm" tools/exitcompare/bench-kvm.sh "${args[@]}"
    grep -qx "bench-kvm: no $tmp/no-kvm on this machine: KVM is not available, nothing measured (needs an Intel CPU with VT-x and the kvm_intel module; docs/exit-comparison.md)" "$tmp/err" ||
        fail "no /dev/kvm: $(cat "$tmp/err")"
    : >"$tmp/kvm"
    printf 'processor\t: 0\nvendor_id\t: AuthenticAMD\n' >"$tmp/cpuinfo"
    expect_refusal 1 "non-Intel CPU" env BENCH_KVM_DEV="$tmp/kvm" BENCH_KVM_CPUINFO="$tmp/cpuinfo" \
        tools/exitcompare/bench-kvm.sh "${args[@]}"
    grep -qx 'bench-kvm: not an Intel CPU (AuthenticAMD): Trapvisor needs VT-x, nothing measured' "$tmp/err" ||
        fail "non-Intel: $(cat "$tmp/err")"
    [ ! -e "$tmp/out.d" ] || fail "a refusal created its output folder"
    # This machine as it is (no test overrides): where it has no /dev/kvm, the script that
    # make bench-kvm runs refuses the same way.
    if [ ! -e /dev/kvm ]; then
        expect_refusal 1 "this machine" tools/exitcompare/bench-kvm.sh "${args[@]}"
        grep -qx 'bench-kvm: no /dev/kvm on this machine: KVM is not available, nothing measured (needs an Intel CPU with VT-x and the kvm_intel module; docs/exit-comparison.md)' "$tmp/err" ||
            fail "this machine: $(cat "$tmp/err")"
    fi
    echo "check-bench-kvm(refusal): ok: $checks checks, one line and exit 1 each ($(($(date +%s) - start))s)"
    ;;
kvm-standin)
    # make bench-kvm's steps on this machine, with tests/exitcompare/tcg-as-kvm-qemu.sh as QEMU
    # (TCG under a KVM command line) and stand-in /dev/kvm, cpuinfo and nested files.
    ec=${2:?exitcompare}
    eb=${3:?exitbench.efi}
    tv=${4:?trapvisor.efi}
    md=$tmp/benchmarks.md
    cp docs/benchmarks.md "$md"
    : >"$tmp/kvm"
    printf 'processor\t: 0\nvendor_id\t: GenuineIntel\n' >"$tmp/cpuinfo"
    run() { # NESTED: bench-kvm.sh with the stand-ins; status in $rc
        echo "$1" >"$tmp/nested"
        rc=0
        env QEMU="$PWD/tests/exitcompare/tcg-as-kvm-qemu.sh" BENCH_KVM_DEV="$tmp/kvm" \
            BENCH_KVM_CPUINFO="$tmp/cpuinfo" BENCH_KVM_NESTED="$tmp/nested" \
            timeout 400 tools/exitcompare/bench-kvm.sh --exitcompare "$ec" --md "$md" \
            --out "$tmp/run" --exitbench "$eb" --trapvisor "$tv" -n 50 --warmup 5 \
            >"$tmp/out" 2>"$tmp/err" || rc=$?
    }
    start=$(date +%s)
    # Nested VMX off: (a) only, its results in place, the bench-compare line to use, status 0.
    run N
    [ "$rc" -eq 0 ] || { cat "$tmp/out" "$tmp/err" >&2; fail "nested off: status $rc, want 0"; }
    [ "$(head -n 1 "$tmp/run/kvm/exitbench.csv")" = "op,cpu,iteration,ticks" ] || fail "nested off: no CSV from (a)"
    [ "$(grep -c '^exitbench: op=.* n=50 ' "$tmp/out")" -eq 5 ] || fail "nested off: (a)'s five op lines not printed"
    grep -qF "bench-kvm: nested VMX is off ($tmp/nested: N): Trapvisor's side not measured." "$tmp/out" ||
        fail "nested off: no line saying so: $(cat "$tmp/out")"
    grep -qF "make bench-compare TRAPVISOR=<that csv> KVM=$tmp/run/kvm/exitbench.csv" "$tmp/out" ||
        fail "nested off: no bench-compare line"
    [ ! -e "$tmp/run/nested" ] || fail "nested off: (b) ran"
    cmp -s "$md" docs/benchmarks.md || fail "nested off: the benchmarks file changed"
    ok
    # Nested VMX on: (b) boots Trapvisor first; TCG has no VMX, so Trapvisor does not start and
    # the comparison must refuse that side (status 2, the file untouched).
    run Y
    [ "$rc" -eq 2 ] || { cat "$tmp/out" "$tmp/err" >&2; fail "nested on: status $rc, want 2"; }
    grep -aq 'trapvisor: not started' "$tmp/run/nested/serial.log" || fail "nested on: Trapvisor was not asked to launch"
    grep -qF "exitcompare: the Trapvisor side says 'exitbench: hypervisor other': it did not run under Trapvisor (inputs swapped?)" "$tmp/err" ||
        fail "nested on: no refusal: $(cat "$tmp/err")"
    cmp -s "$md" docs/benchmarks.md || fail "nested on: the benchmarks file changed"
    ok
    echo "check-bench-kvm: ok: $checks checks with a TCG stand-in for KVM (nested off: the KVM side and the next command; nested on: Trapvisor asked to launch, a side without it refused) ($(($(date +%s) - start))s)"
    ;;
*)
    fail "unknown mode '$mode'"
    ;;
esac
