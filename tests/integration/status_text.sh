# status, the text form: a header line with an RFC 3339 time, a ready count
# per app, durations with units, 100 columns, colour only on a terminal
# (NO_COLOR honoured); status -w redrawing on a change through inotify.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
HEALTHY_MS=500 demo_config 2 47450
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "2 replicas of 1.0.0"

run 0 dx status
head=$(printf '%s\n' "$OUT" | head -1)
case "$head" in
"deployex "*"  20"[0-9][0-9]"-"[0-1][0-9]"-"[0-3][0-9]"T"[0-2][0-9]":"[0-5][0-9]":"[0-5][0-9]"Z  daemon running (pid $DAEMON_PID)") ok ;;
*) fail "header line: $head" ;;
esac
assert_contains "$OUT" "demo (erlang)  desired 1.0.0 (source, hash h1.0.0)  2/2 ready" "the app line with its ready count"
assert_contains "$OUT" "  N  STATE        VERSION     PID     UPTIME  OTP" "the instance table's header"
up=$(printf '%s\n' "$OUT" | awk '$1 == 1 { print $5 }')
case "$up" in [0-9]*s) ok ;; *) fail "uptime with a unit: '$up'" ;; esac
printf '%s\n' "$OUT" | grep -q "full ok 20[0-9-]*T[0-9:]*Z" || fail "last deploy with an RFC 3339 time: $OUT"; ok
assert_not_contains "$OUT" "$(printf '\033')" "no colour into a pipe"
[ "$(printf '%s\n' "$OUT" | awk '{ if (length($0) > m) m = length($0) } END { print m }')" -le 100 ] ||
        fail "a line over 100 columns: $OUT"; ok

# Colour on a terminal only, never with NO_COLOR.
TTY="python3 $DEPLOYEX_TOP/tests/integration/tty_run.py"
out=$(env -u NO_COLOR TERM=xterm $TTY -- "$DEPLOYEX" -c "$T/deployex.json" status)
assert_contains "$out" "$(printf '\033[32m')running" "running in green on a terminal"
out=$(NO_COLOR=1 TERM=xterm $TTY -- "$DEPLOYEX" -c "$T/deployex.json" status)
assert_not_contains "$out" "$(printf '\033')" "NO_COLOR"

# -w: a frame now, another when a state file changes, exit 0 on SIGTERM.
"$DEPLOYEX" -c "$T/deployex.json" status -w demo >"$T/w.out" 2>"$T/w.err" &
WPID=$!
wait_for 10 "grep -q '2/2 ready' '$T/w.out'" "the first frame"
assert_not_contains "$(cat "$T/w.out")" "PAUSED" "not paused yet"
run 0 dx pause demo
wait_for 5 "grep -q 'PAUSED' '$T/w.out'" "a new frame after the pause"
frames=$(grep -c '^deployex ' "$T/w.out")
[ "$frames" -ge 2 ] || fail "expected at least 2 frames, got $frames"; ok
kill -KILL "$(inst_field 2 pid)"
wait_for 10 "tail -n 4 '$T/w.out' | grep -qE '^  2  (backoff|starting|stopped)'" "a frame showing the crash of instance 2"
kill -TERM $WPID; wait $WPID; rc=$?
assert_eq 0 "$rc" "status -w exits 0 on SIGTERM"
assert_eq "" "$(cat "$T/w.err")" "nothing on stderr"

# -w --json: one document a line per change.
"$DEPLOYEX" -c "$T/deployex.json" status -w --json demo >"$T/wj.out" &
WPID=$!
wait_for 10 "[ -s '$T/wj.out' ]" "the first document"
run 0 dx resume demo
wait_for 5 "tail -n 1 '$T/wj.out' | jq -e '.apps[0].paused == false' >/dev/null" "a document after the resume"
kill -TERM $WPID; wait $WPID
jq -e . "$T/wj.out" >/dev/null || fail "every line is a JSON document"; ok
run 2 dx status -x
finish
