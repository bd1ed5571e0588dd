# The daemon with real Erlang releases: first deploy of 3 replicas, a rolling
# update that keeps at least two replicas answering, a crash restart with its
# counters, a rolling restart token, a single-instance restart, SIGTERM.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47310

demo_config 3 $BASE
publish_demo 1.0.0
# systemd's side of sd_notify: a datagram socket that writes down what it hears.
setsid python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode() + "\n")
        f.flush()' "$T/notify.sock" "$T/notify.log" &
KILL_GROUPS="${KILL_GROUPS:-} $!"
wait_for 5 "[ -S '$T/notify.sock' ]" "the notify socket"
NOTIFY_SOCKET="$T/notify.sock" start_daemon
wait_for 10 "grep -q '^READY=1' '$T/notify.log'" "READY=1 from the daemon"

# First deploy: instance n on port BASE+n-1, all 1.0.0, all ready.
wait_for 60 "all_running 3 1.0.0" "3 replicas running 1.0.0"
for n in 1 2 3; do
        assert_contains "$(answer $((BASE + n - 1)))" "demo 1.0.0 demo-$n@" "instance $n answers on its port"
done
s=$(st)
assert_eq "true" "$(jqr "$s" .daemon.running)" "status sees the daemon"
assert_eq "$DAEMON_PID" "$(jqr "$s" .daemon.pid)" "status names the daemon pid"
assert_eq "full" "$(jqr "$s" '.apps[0].instances[2].last_deploy.kind')" "last deploy recorded"
assert_eq "3" "$(dx history --json demo | jq '[.[] | select(.kind == "full" and .result == "ok")] | length')" "3 deploy events"
[ -f "$T/log/demo/demo-1-stdout.log" ] || fail "instance 1 has a stdout log"
ok

# Rolling update: poll the ports the whole time; never more than one down.
publish_demo 1.0.1
max_down=0
end=$(( $(date +%s) + 90 ))
while ! all_running 3 1.0.1; do
        down=0
        for p in $BASE $((BASE + 1)) $((BASE + 2)); do
                [ -n "$(answer $p)" ] || down=$((down + 1))
        done
        [ $down -gt $max_down ] && max_down=$down
        [ "$(date +%s)" -lt $end ] || { tail -n 40 "$T/daemon.log"; fail "rolling update did not converge"; }
done
[ $max_down -le 1 ] || fail "rolling update had $max_down replicas down at once"
ok
for n in 1 2 3; do
        assert_contains "$(answer $((BASE + n - 1)))" "demo 1.0.1" "instance $n runs 1.0.1"
done
h=$(dx history --json demo)
assert_eq "1.0.0" "$(jqr "$h" '[.[] | select(.version == "1.0.1")][0].from')" "history from -> to"
# Order 1..N: the 1.0.1 events are for instances 1, 2, 3 in that order.
assert_eq "1 2 3" "$(jqr "$h" '[.[] | select(.version == "1.0.1") | .instance] | map(tostring) | join(" ")')" "rolling order"

# Crash: kill -9 instance 2's VM; it restarts after the backoff, counted as a crash.
pid2=$(inst_field 2 pid)
kill -KILL "$pid2"
wait_for 20 "[ \"\$(inst_field 2 crash_restarts)\" = 1 ]" "the crash to be counted"
wait_for 30 "[ \"\$(inst_field 2 state)\" = running ]" "instance 2 to be running again"
[ "$(inst_field 2 pid)" != "$pid2" ] || fail "instance 2 has a new pid"
ok
assert_eq "0" "$(inst_field 2 forced_restarts)" "a crash is not a forced restart"
assert_eq "0" "$(inst_field 1 crash_restarts)" "instance 1 did not crash"
assert_contains "$(answer $((BASE + 1)))" "demo 1.0.1" "instance 2 answers after its crash"
# The log writers outlive a crash: still one per instance (both streams), and both VMs' output
# is in the log.
assert_eq "3" "$(pgrep -f -- "deployex-log $T/log/demo/demo-[0-9]-stdout.log $T/log/demo/demo-[0-9]-stderr.log" | wc -l)" "one lean log writer per instance after a crash"
# Three VMs wrote to instance 2's log: 1.0.0, 1.0.1, and 1.0.1 again after the crash.
assert_eq "3" "$(grep -cE '^[0-9]{4}-[0-9:.TZ-]+ Exec: ' "$T/log/demo/demo-2-stdout.log")" "every VM of instance 2 in its one log"

# Single-instance restart: only instance 3 gets a new pid.
pid1=$(inst_field 1 pid); pid3=$(inst_field 3 pid)
run 0 dx restart demo 3
wait_for 30 "[ \"\$(inst_field 3 forced_restarts)\" = 1 ] && [ \"\$(inst_field 3 state)\" = running ]" "instance 3 restart"
[ "$(inst_field 3 pid)" != "$pid3" ] || fail "instance 3 was not restarted"
assert_eq "$pid1" "$(inst_field 1 pid)" "instance 1 untouched by a single restart"

# Rolling restart token: every instance restarts once, one at a time.
run 0 dx restart demo
wait_for 60 "[ \"\$(st | jq -c '[.apps[0].instances[] | select(.state == \"running\") | .forced_restarts]')\" = '[1,1,2]' ]" "a rolling restart"
assert_eq "1" "$(inst_field 1 forced_restarts)" "instance 1 restarted once"
assert_eq "2" "$(inst_field 3 forced_restarts)" "instance 3 restarted again"
[ "$(inst_field 1 pid)" != "$pid1" ] || fail "instance 1 has a new pid"
ok
sleep 1
assert_eq "1" "$(inst_field 1 forced_restarts)" "a token restarts only once"

# SIGTERM: every instance stops, the daemon exits 0.
pids=$(st | jq -r '.apps[0].instances[].pid')
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"; rc=$?
assert_eq 0 "$rc" "SIGTERM exit status"
grep -q '^STOPPING=1' "$T/notify.log" || fail "no STOPPING=1 on SIGTERM"
grep -q '^STATUS=1 apps, 3/3 instances ready' "$T/notify.log" || fail "no STATUS= line with the ready count"
ok
for p in $pids; do kill -0 "$p" 2>/dev/null && fail "pid $p still runs after SIGTERM"; done
ok
s=$(st)
assert_eq "false" "$(jqr "$s" .daemon.running)" "daemon gone"
assert_eq "stopped stopped stopped" "$(jqr "$s" '[.apps[0].instances[].state] | join(" ")')" "all stopped"
finish
