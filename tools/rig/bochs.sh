#!/usr/bin/env bash
# bochs.sh: boot a disk image in Bochs + OVMF, with VT-x (shared/RIGS.md).
#
# Usage: tools/rig/bochs.sh --image IMG --serial OUT [options]
#   --image IMG        GPT disk image with an ESP (tools/image/mkimg.sh). Bochs runs on a
#                      private copy, so IMG is never modified and runs never collide.
#   --serial OUT       where COM1's output ends up (written when the run ends)
#   --cpus N           processors (default 1); N > 1 adds quantum=16
#   --timeout S        seconds before Bochs is killed (default 300); exit status 124
#   --log FILE         keep Bochs's own log there (and the terminal transcript in FILE.term)
#   --ips N            emulated instructions per second (default 50000000)
#   --megs N           guest memory in MiB (default 256)
#   --ovmf FILE        firmware image (default /usr/share/ovmf/OVMF.fd)
#   --bochs auto|3|2.7 which Bochs (default auto: 3.0 from the Debian 13 chroot when root,
#                      else Debian 12's 2.7 with one CPU)
#   --expect REGEX     (repeatable) a serial line must match each; the run stops early once
#                      all have been seen, and exits 0 only if all were seen
#   --until REGEX      stop as soon as a serial line matches (exit 0 only if seen, and every
#                      --expect too)
#   --fail REGEX       stop as soon as a serial line matches, exit 1
#   --live             copy the serial output to stdout while the run goes on
#
# Exit status: 0 success (patterns seen; without patterns: Bochs ended by itself before the
# timeout, after some serial output), 1 a --fail pattern or a missing --expect/--until pattern, 124 timeout,
# 2 usage error, 3 setup error (missing file, no Bochs). Judge success from the serial log:
# Bochs's own exit status says nothing about the guest.
#
# Environment: TRAPVISOR_BOCHS_CHROOT (the chroot's folder, see bochs-chroot.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { echo "bochs: $*" >&2; }
usage() {
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
    exit 2
}
die_usage() {
    say "$*"
    say "usage: $0 --image IMG --serial OUT [--cpus N] [--timeout S] [--log FILE] [--ips N] [--bochs auto|3|2.7] [--expect RE] [--until RE] [--fail RE] [--live]"
    exit 2
}
die_setup() {
    say "$*"
    exit 3
}

IMAGE="" SERIAL_OUT="" CPUS=1 TIMEOUT=300 LOG_OUT="" IPS=50000000 MEGS=256 WHICH=auto
OVMF=/usr/share/ovmf/OVMF.fd UNTIL="" FAIL="" LIVE=0
EXPECTS=()

need_arg() { [ $# -ge 2 ] || die_usage "$1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --image) need_arg "$@"; IMAGE=$2; shift 2 ;;
    --serial) need_arg "$@"; SERIAL_OUT=$2; shift 2 ;;
    --cpus) need_arg "$@"; CPUS=$2; shift 2 ;;
    --timeout) need_arg "$@"; TIMEOUT=$2; shift 2 ;;
    --log) need_arg "$@"; LOG_OUT=$2; shift 2 ;;
    --ips) need_arg "$@"; IPS=$2; shift 2 ;;
    --megs) need_arg "$@"; MEGS=$2; shift 2 ;;
    --ovmf) need_arg "$@"; OVMF=$2; shift 2 ;;
    --bochs) need_arg "$@"; WHICH=$2; shift 2 ;;
    --expect) need_arg "$@"; EXPECTS+=("$2"); shift 2 ;;
    --until) need_arg "$@"; UNTIL=$2; shift 2 ;;
    --fail) need_arg "$@"; FAIL=$2; shift 2 ;;
    --live) LIVE=1; shift ;;
    -h | --help) usage ;;
    *) die_usage "unknown option: $1" ;;
    esac
done

[ -n "$IMAGE" ] || die_usage "--image is required"
[ -n "$SERIAL_OUT" ] || die_usage "--serial is required"
[[ $CPUS =~ ^[1-9][0-9]?$ ]] || die_usage "--cpus must be 1..99, got '$CPUS'"
[[ $TIMEOUT =~ ^[1-9][0-9]{0,5}$ ]] || die_usage "--timeout must be a number of seconds, got '$TIMEOUT'"
[[ $IPS =~ ^[1-9][0-9]{5,10}$ ]] || die_usage "--ips must be a number >= 100000, got '$IPS'"
[[ $MEGS =~ ^[1-9][0-9]{1,4}$ ]] || die_usage "--megs must be a number of MiB, got '$MEGS'"
case "$WHICH" in auto | 3 | 2.7) ;; *) die_usage "--bochs must be auto, 3 or 2.7, got '$WHICH'" ;; esac
for re in "${EXPECTS[@]}" "$UNTIL" "$FAIL"; do
    [ -z "$re" ] && continue
    rc=0
    grep -qE -- "$re" /dev/null 2>/dev/null || rc=$?
    [ "$rc" -le 1 ] || die_usage "not a valid extended regular expression: $re"
done
[ -f "$IMAGE" ] || die_setup "no such image: $IMAGE"
[ -f "$OVMF" ] || die_setup "no firmware at $OVMF (Debian package ovmf)"

# A killed Bochs leaves IMG.lock beside a disk it used in place; remove it when no process
# still has the image open (this script itself always runs on a copy).
if [ -e "$IMAGE.lock" ]; then
    img_abs=$(readlink -f "$IMAGE")
    holder=""
    for fd in /proc/[0-9]*/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "$img_abs" ] && holder=${fd#/proc/} && break
    done
    if [ -z "$holder" ]; then
        say "removing stale $IMAGE.lock (no process has the image open)"
        rm -f "$IMAGE.lock"
    else
        say "note: $IMAGE.lock is held by pid ${holder%%/*}; running on a copy anyway"
    fi
fi

# --- which Bochs -----------------------------------------------------------------------------
CHROOT=""
if [ "$WHICH" != 2.7 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        if CHROOT=$("$HERE/bochs-chroot.sh" | tail -n 1) && [ -x "$CHROOT/usr/bin/bochs" ]; then
            :
        else
            CHROOT=""
            [ "$WHICH" = 3 ] && die_setup "the Bochs 3.0 chroot could not be built"
            say "the Bochs 3.0 chroot could not be built; falling back to Debian 12's Bochs 2.7"
        fi
    else
        [ "$WHICH" = 3 ] && die_setup "Bochs 3.0 runs from a chroot and needs root"
        say "not root: using Debian 12's Bochs 2.7 (the 3.0 chroot needs root)"
    fi
fi
if [ -z "$CHROOT" ]; then
    command -v bochs >/dev/null || die_setup "no bochs (Debian packages bochs bochs-term bochsbios vgabios)"
    if [ "$CPUS" -gt 1 ]; then
        if [ "$WHICH" = auto ]; then
            say "Bochs 2.7 cannot keep an AP virtualized across INIT-SIPI-SIPI: running with ONE CPU instead of $CPUS"
            CPUS=1
        else
            say "warning: Bochs 2.7 with $CPUS CPUs: APs lose VMX non-root mode at INIT-SIPI-SIPI (Bochs 2.7 bug)"
        fi
    fi
fi

# --- the run's private folder ----------------------------------------------------------------
# Run folders of runs that were killed outright (SIGKILL skips the cleanup trap): older than
# an hour and named on no process's command line.
remove_stale_runs() {
    local d tag
    for d in $(find "$1" -maxdepth 1 -type d -name 'trapvisor-bochs.*' -mmin +60 2>/dev/null); do
        tag=${d##*/}
        if [ -z "$(grep -lsz -- "[${tag:0:1}]${tag:1}/" /proc/[0-9]*/cmdline)" ]; then
            say "removing the folder of an earlier run that was killed: $d"
            rm -rf --one-file-system "$d"
        fi
    done
    return 0
}
if [ -n "$CHROOT" ]; then
    remove_stale_runs "$CHROOT/tmp"
    RUN=$(mktemp -d "$CHROOT/tmp/trapvisor-bochs.XXXXXX")
    IN=/tmp/${RUN##*/} # the same folder as the chroot sees it
    VGABIOS=/usr/share/bochs/VGABIOS-lgpl-latest
    BOCHS_DESC="Bochs $(dpkg-query --admindir="$CHROOT/var/lib/dpkg" -W -f='${Version}' bochs 2>/dev/null || echo 3) (chroot $CHROOT)"
else
    remove_stale_runs "${TMPDIR:-/tmp}"
    RUN=$(mktemp -d "${TMPDIR:-/tmp}/trapvisor-bochs.XXXXXX")
    IN=$RUN
    VGABIOS=/usr/share/bochs/VGABIOS-lgpl-latest
    BOCHS_DESC="Bochs $(dpkg-query -W -f='${Version}' bochs 2>/dev/null || echo 2.7) (host)"
fi
TAG=${RUN##*/}
say "run folder $RUN"
LAUNCHER_PID=""
TAIL_PID=""
KILLED_TICKS=0

# Kills what this run started: the launcher's process group, then anything still running with
# this run's unique folder on its command line (Bochs lives in script's own session).
stop_bochs() {
    [ -n "$LAUNCHER_PID" ] || return 0
    local p _
    # CPU time of the run's processes, read before they die (a killed process's time is lost
    # to the accounting of its parents).
    KILLED_TICKS=0
    for p in $(pids_of_run); do
        KILLED_TICKS=$((KILLED_TICKS + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null |
            awk '{ print $12 + $13 + $14 + $15 }' || echo 0)))
    done
    # The disk is a private copy, so nothing is lost by not letting Bochs end gracefully (it
    # does not react to SIGTERM promptly): SIGKILL for Bochs and script, then the launcher.
    for _ in $(seq 1 20); do
        p=$(pids_of_run)
        [ -n "$p" ] && { kill -KILL $p 2>/dev/null || true; }
        kill -TERM -- "-$LAUNCHER_PID" 2>/dev/null || true
        if [ -z "$p" ] && ! kill -0 "$LAUNCHER_PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    kill -KILL -- "-$LAUNCHER_PID" 2>/dev/null || true
    wait "$LAUNCHER_PID" 2>/dev/null || true
    LAUNCHER_PID=""
}
pids_of_run() {
    local f
    # "[t]rapvisor-..." so that grep's own command line does not match.
    for f in $(grep -lsz -- "[${TAG:0:1}]${TAG:1}/bochsrc" /proc/[0-9]*/cmdline); do
        f=${f#/proc/}
        [ "${f%/cmdline}" = $$ ] || echo "${f%/cmdline}"
    done
    return 0
}
finish() {
    local rc=$?
    stop_bochs 2>/dev/null
    [ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null || true
    if [ -f "$RUN/serial.txt" ]; then
        cp "$RUN/serial.txt" "$SERIAL_OUT" 2>/dev/null || say "cannot write $SERIAL_OUT"
    fi
    if [ -n "$LOG_OUT" ]; then
        [ -f "$RUN/bochs.log" ] && cp "$RUN/bochs.log" "$LOG_OUT"
        [ -f "$RUN/term.log" ] && cp "$RUN/term.log" "$LOG_OUT.term"
    fi
    rm -rf --one-file-system "$RUN"
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp --sparse=always "$IMAGE" "$RUN/disk.img"
cp "$OVMF" "$RUN/ovmf.fd"
: >"$RUN/serial.txt"
ovmf_size=$(stat -c %s "$OVMF")
ovmf_addr=$(printf '0x%x' $((0x100000000 - ovmf_size)))
quantum=""
[ "$CPUS" -gt 1 ] && quantum="quantum=16, "
sed -e "s|@MEGS@|$MEGS|" -e "s|@CPUS@|$CPUS|" -e "s|@IPS@|$IPS|" -e "s|@QUANTUM@|$quantum|" \
    -e "s|@OVMF@|$IN/ovmf.fd|" -e "s|@OVMF_ADDR@|$ovmf_addr|" -e "s|@VGABIOS@|$VGABIOS|" \
    -e "s|@DISK@|$IN/disk.img|" -e "s|@SERIAL@|$IN/serial.txt|" -e "s|@LOG@|$IN/bochs.log|" \
    "$HERE/bochsrc.in" >"$RUN/bochsrc"
# Debugger commands: continue; and if anything drops into the debugger, quit instead of waiting.
printf 'c\nquit\n' >"$RUN/cmds"

BOCHS_CMD="bochs -q -f $IN/bochsrc -rc $IN/cmds"
say "$BOCHS_DESC, $CPUS CPU(s), ips=$IPS, ${MEGS} MiB, timeout ${TIMEOUT}s, image $IMAGE"

# The launcher runs in its own process group (setsid) so that stop_bochs can end all of it.
# With the chroot, /proc and /dev/pts are mounted in a private mount namespace (unshare -m):
# they vanish with the run's last process, whatever way it ends, and concurrent runs never
# unmount each other's mounts. Without unshare, mounts are reference-counted under a lock.
if [ -n "$CHROOT" ]; then
    if unshare --mount --propagation private true 2>/dev/null; then
        setsid unshare --mount --propagation private -- bash -c '
            set -e
            mount -t proc proc "$1/proc"
            mount --bind /dev/pts "$1/dev/pts"
            exec chroot "$1" /usr/bin/env -i TERM=xterm HOME=/root PATH=/usr/bin:/bin:/usr/sbin:/sbin \
                script -qfc "$2" "$3" </dev/null' _ "$CHROOT" "$BOCHS_CMD" "$IN/term.log" \
            >/dev/null 2>"$RUN/launcher.err" &
    else
        setsid bash -c '
            C=$1 USERS=$1/.trapvisor-mount-users
            mkdir -p "$USERS"
            exec 9>"$1/.trapvisor-mount.lock"
            flock 9
            mountpoint -q "$C/proc" || mount -t proc proc "$C/proc"
            mountpoint -q "$C/dev/pts" || mount --bind /dev/pts "$C/dev/pts"
            : >"$USERS/$$"
            flock -u 9
            release() {
                flock 9
                rm -f "$USERS/$$"
                for u in "$USERS"/*; do [ -e "$u" ] && ! kill -0 "${u##*/}" 2>/dev/null && rm -f "$u"; done
                if [ -z "$(ls -A "$USERS")" ]; then umount -l "$C/dev/pts" || true; umount -l "$C/proc" || true; fi
                flock -u 9
            }
            trap release EXIT
            trap "exit 143" TERM INT HUP
            chroot "$C" /usr/bin/env -i TERM=xterm HOME=/root PATH=/usr/bin:/bin:/usr/sbin:/sbin \
                script -qfc "$2" "$3" </dev/null 9>&-' _ "$CHROOT" "$BOCHS_CMD" "$IN/term.log" \
            >/dev/null 2>"$RUN/launcher.err" &
    fi
else
    setsid env TERM=xterm script -qfc "$BOCHS_CMD" "$IN/term.log" </dev/null >/dev/null \
        2>"$RUN/launcher.err" &
fi
LAUNCHER_PID=$!

if [ "$LIVE" = 1 ]; then
    tail -n +1 -F "$RUN/serial.txt" 2>/dev/null &
    TAIL_PID=$!
fi

# --- watch the serial log ----------------------------------------------------------------------
now_ms() { date +%s%3N; }
start=$(now_ms)
deadline=$((start + TIMEOUT * 1000))
seen=() first_ms="" until_seen=0 result=""
for _ in "${EXPECTS[@]}"; do seen+=(0); done
elapsed() { local ms=$(($(now_ms) - start)); printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)); }

check_serial() {
    local f=$RUN/serial.txt i all=1
    if [ -z "$first_ms" ] && [ -s "$f" ]; then
        first_ms=$(($(now_ms) - start))
        say "first serial output after $(elapsed) s"
    fi
    if [ -n "$FAIL" ] && grep -qE -- "$FAIL" "$f"; then
        say "fail pattern seen after $(elapsed) s: $(grep -E -m1 -- "$FAIL" "$f" | tr -d '\r')"
        result=fail
        return
    fi
    for i in "${!EXPECTS[@]}"; do
        if [ "${seen[$i]}" = 0 ]; then
            if grep -qE -- "${EXPECTS[$i]}" "$f"; then
                seen[i]=1
                say "expected pattern seen after $(elapsed) s: ${EXPECTS[$i]}"
            else
                all=0
            fi
        fi
    done
    if [ -n "$UNTIL" ] && [ "$until_seen" = 0 ] && grep -qE -- "$UNTIL" "$f"; then
        until_seen=1
        say "until pattern seen after $(elapsed) s: $UNTIL"
    fi
    if [ -n "$UNTIL" ]; then
        [ "$until_seen" = 1 ] && result=stop
    elif [ ${#EXPECTS[@]} -gt 0 ] && [ "$all" = 1 ]; then
        result=stop
    fi
    return 0
}

while kill -0 "$LAUNCHER_PID" 2>/dev/null; do
    check_serial
    [ -n "$result" ] && break
    if [ "$(now_ms)" -ge "$deadline" ]; then
        result=timeout
        break
    fi
    sleep 0.2
done
[ -z "$result" ] && check_serial # Bochs ended by itself: one last look at the log
took=$(elapsed)
stop_start=$(now_ms)
stop_bochs 2>/dev/null
say "stopping Bochs took $(($(now_ms) - stop_start)) ms"
[ -n "$TAIL_PID" ] && { sleep 0.3; kill "$TAIL_PID" 2>/dev/null || true; TAIL_PID=""; }

missing=()
for i in "${!EXPECTS[@]}"; do [ "${seen[$i]}" = 1 ] || missing+=("${EXPECTS[$i]}"); done
[ -n "$UNTIL" ] && [ "$until_seen" = 0 ] && missing+=("$UNTIL")

tail_serial() {
    say "last lines of the serial log:"
    tail -n 15 "$RUN/serial.txt" | tr -d '\r' | sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/^/  | /' >&2
    if [ -f "$RUN/bochs.log" ] && grep -qE 'PANIC|ERROR|FATAL' "$RUN/bochs.log"; then
        say "Bochs's log says:"
        grep -E 'PANIC|ERROR|FATAL' "$RUN/bochs.log" | tail -n 5 | sed 's/^/  | /' >&2
    fi
    if [ -s "$RUN/launcher.err" ]; then
        say "launcher said:"
        tail -n 5 "$RUN/launcher.err" | sed 's/^/  | /' >&2
    fi
}

case "$result" in
fail)
    tail_serial
    exit 1
    ;;
timeout)
    say "timeout after ${TIMEOUT} s: Bochs killed"
    [ ${#missing[@]} -gt 0 ] && say "never seen: ${missing[*]}"
    tail_serial
    exit 124
    ;;
esac
if [ -z "$result" ] && [ ! -s "$RUN/serial.txt" ]; then
    say "Bochs ended after $took s without any serial output (a bad configuration?)"
    tail_serial
    exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
    say "Bochs ended after $took s without: ${missing[*]}"
    tail_serial
    exit 1
fi
# CPU time of everything this run started (Bochs dominates): unlike the wall-clock figures it
# does not grow when other work shares the machine.
times >"$RUN/times"
cpu=$(sed -n 2p "$RUN/times" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.1f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
if [ "${KILLED_TICKS:-0}" -gt 0 ]; then
    cpu=$(awk -v t="$KILLED_TICKS" -v hz="$(getconf CLK_TCK)" -v c="$cpu" 'BEGIN { printf "%.1f", c + t / hz }')
fi
if [ "$result" = stop ]; then
    say "done after $took s, $cpu s of CPU (stopped early: pattern seen)"
else
    say "done after $took s, $cpu s of CPU (Bochs ended by itself)"
fi
exit 0
