# A release that leaves a daemon behind (setsid + background, as some start
# scripts do) escapes the process-group kill.  The daemon is a child
# subreaper and marks every instance's environment, so what escaped is found
# and killed when the instance stops or crashes: never one more per restart,
# and nothing left once the daemon stops everything.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47380
HEALTHY_MS=500
# The instance starts a setsid grandchild, then the release in the foreground.
escapee_start_hook "setsid sleep 1000"
demo_config 1 $BASE ", \"hooks\": \"$T/hooks.lua\""
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 1 1.0.0" "instance 1 running"
# sleepers: the escaped grandchildren carrying this test's instance marker.
sleepers() {
        for p in $(pgrep -x sleep); do
                tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
                        grep -qx "DEPLOYEX_INSTANCE=$T/var/service/demo/1" && echo "$p"
        done | wc -l | tr -d ' '
}
wait_for 10 "[ \$(sleepers) = 1 ]" "the escaped grandchild to run"
s1=$(pgrep -x sleep | while read -r p; do tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "DEPLOYEX_INSTANCE=$T/var/service/demo/1" && echo "$p"; done)
[ "$(ps -o sid= -p "$s1" | tr -d ' ')" != "$(inst_field 1 pid)" ] || fail "the grandchild left the instance's session"
ok

pid=$(inst_field 1 pid)
run 0 dx restart demo 1
wait_for 60 "[ \"\$(inst_field 1 pid)\" != $pid ] && [ \"\$(inst_field 1 state)\" = running ]" "the restart"
assert_eq "1" "$(sleepers)" "a restart leaves no grandchild behind"
kill -0 "$s1" 2>/dev/null && fail "the old grandchild $s1 survived the restart"
ok

pid=$(inst_field 1 pid)
kill -KILL "$pid"
wait_for 60 "[ \"\$(inst_field 1 pid)\" != $pid ] && [ \"\$(inst_field 1 state)\" = running ]" "the crash restart"
assert_eq "1" "$(sleepers)" "a crash restart leaves no grandchild behind"

kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
assert_eq "0" "$(sleepers)" "nothing left once the daemon stopped everything"
leftover=$(pgrep -f -- "$T/log/demo" | wc -l | tr -d ' ')
assert_eq "0" "$leftover" "the log writers ended too"
finish
