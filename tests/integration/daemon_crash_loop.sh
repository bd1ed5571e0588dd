# restart_backoff.initial_ms 0: the first crash restarts at once, and a
# release that dies on every start still backs off (0, 1, 2, 4 ... ms, up to
# max_ms) instead of making the daemon spin.  The start command is a wrapper
# that exits 3 at once while a flag file exists; the intervals between crashes
# are read from the daemon's own log timestamps, so the test holds however
# slow the machine is (a loaded host only makes them longer).
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47410
HEALTHY_MS=500
BACKOFF='{"initial_ms": 0, "max_ms": 1000}'
sed "s|@FLAG@|$T/crash.flag|" >"$T/hooks.lua" <<'LUA'
-- The release dies on start (status 3) while the flag exists.
function start(ctx)
        local cmd = deployex.default.start(ctx)
        local argv = { "/bin/sh", "-c",
                'if [ -e @FLAG@ ]; then echo "crash loop" >&2; exit 3; fi; exec "$0" "$@"' }
        for _, a in ipairs(cmd.argv) do argv[#argv + 1] = a end
        cmd.argv = argv
        return cmd
end
LUA
demo_config 1 $BASE ", \"max_probation_crashes\": 1000, \"hooks\": \"$T/hooks.lua\""
# A webhook receiver that checks the HMAC: the crash loop is announced, once.
HOOK=47416
printf 'hook-s3cret\n' >"$T/hook.key" && chmod 600 "$T/hook.key"
jq --arg u "http://127.0.0.1:$HOOK/hook" --arg k "$T/hook.key" \
        '.notify = [{url: $u, secret_file: $k, events: ["crash_loop"]}]' \
        "$T/deployex.json" >"$T/d.tmp" && mv "$T/d.tmp" "$T/deployex.json"
setsid python3 "$DEPLOYEX_TOP/tests/integration/webhook_receiver.py" $HOOK "$T/hook.key" \
        "$T/hooks.jsonl" "$T/recv.ready" >"$T/recv.out" 2>&1 &
KILL_GROUPS="${KILL_GROUPS:-} $!"
wait_for 10 "[ -f '$T/recv.ready' ]" "the webhook receiver"
loops() { # the crash_loop events delivered (at least once: by id), "APP/N VERSION" each
        [ -f "$T/hooks.jsonl" ] || return 0
        jq -rs '[.[] | select(.valid and .body.event == "crash_loop")] | unique_by(.body.id) | .[] |
                "\(.body.app)/\(.body.instance) \(.body.version)"' "$T/hooks.jsonl"
}
run 0 dx check
publish_demo 1.0.0
start_daemon
wait_for 10 "[ -f '$T/var/state/notify/cursor.json' ]" "the notify job's first run"
wait_for 60 "all_running 1 1.0.0" "instance 1 running"

touch "$T/crash.flag"
pid=$(inst_field 1 pid)
kill -KILL "$pid"
wait_for 60 "[ \"\$(inst_field 1 crash_restarts)\" -ge 12 ]" "12 crashes in a row"
n=$(inst_field 1 crash_restarts)
[ "$n" -lt 40 ] || fail "$n crashes: the loop did not back off"
ok
# The plan's own words for the first two restarts: at once, then 1 ms.
grep -q "start 1.0.0 -> 1.0.0 (crashed once; restart after 0 ms backoff)" "$T/daemon.log" ||
        fail "the first crash was not restarted at once"
grep -q "crashed 2 times in a row; restart after 1 ms backoff" "$T/daemon.log" ||
        fail "the second crash did not wait 1 ms"
ok
# crash k+1 comes at least delay(k) after crash k: from crash 2 to crash 12 at
# least 1 + 2 + ... + 512 = 1023 ms (the log's milliseconds are truncated: 1 ms slack).
python3 - "$T/daemon.log" <<'PY' || fail "the crash loop did not back off (see above)"
import re, sys
from datetime import datetime
at = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\S+Z) .*-> backoff: .*crash (\d+) in a row', line)
    if m and int(m.group(2)) not in at:
        at[int(m.group(2))] = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
ms = lambda a, b: (at[b] - at[a]).total_seconds() * 1000
for k in range(2, 12):
    want = 2 ** (k - 2)
    if ms(k, k + 1) < want - 1:
        print(f"crash {k} -> {k + 1}: {ms(k, k + 1):.0f} ms, backoff {want} ms")
        sys.exit(1)
if ms(2, 12) < 1022:
    print(f"crash 2 -> 12 in {ms(2, 12):.0f} ms, want >= 1023")
    sys.exit(1)
PY
ok
wait_for 30 "[ -n \"\$(loops)\" ]" "the crash_loop event"
assert_eq "demo/1 1.0.0" "$(loops)" "one crash_loop event for the streak, signed"
assert_contains "$(inst_field 1 last_error)" "exited with status 3" "the crash is explained"
assert_contains "$(inst_field 1 last_error)" "crash loop" "with the last stderr line"
# Both streams went through the instance's one log writer, which outlived every crash.
assert_eq "1" "$(pgrep -f -- "deployex-log $T/log/demo/demo-1-stdout.log $T/log/demo/demo-1-stderr.log" | wc -l)" "one log writer for instance 1"
assert_eq "1" "$(pgrep -f -- "deployex-log $T/log/" | wc -l)" "no other log writer"
grep -q "crash loop" "$T/log/demo/demo-1-stderr.log" || fail "stderr is in its log file"
grep -q "Exec: " "$T/log/demo/demo-1-stdout.log" || fail "stdout is in its log file"
ok

# The release works again: back to running, the series starts over.
rm -f "$T/crash.flag"
wait_for 60 "[ \"\$(inst_field 1 state)\" = running ]" "instance 1 running again"
assert_contains "$(answer $BASE)" "demo 1.0.0" "instance 1 answers after the loop"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
finish
