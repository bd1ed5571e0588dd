# A host fault is never a release's: with the daemon's open-files limit
# exhausted (prlimit, hard limit included, so raising the soft one cannot
# help), scaling up cannot start what it needs.  Nothing is ghosted, the
# ready instance keeps its pid, the fault is logged once per cause (not once
# per attempt) and shown by status, rollbacks for readiness are held; once
# the limit is raised (a daemon restart that adopts what runs) the app converges.
# A daemon started with a soft limit below the hard one raises its own to the
# hard one; the instances it starts keep the soft limit it was given.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47370
HEALTHY_MS=500
demo_config 1 $BASE
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 1 1.0.0" "instance 1 running"
pid1=$(inst_field 1 pid)

# Exhaust the running daemon's open files, hard limit included: every number below its
# lowest free fd is taken, and 3 more leave room to read an edited configuration, not to
# start a job (a pipe pair each for stdout, stderr and the exec report).  Measured, not a
# fixed count: the daemon's own fds grow with its long-lived workers.
dpid=$(cat "$T/var/run/deployex.pid")
free=0
while [ -e "/proc/$dpid/fd/$free" ]; do free=$((free + 1)); done
prlimit --pid "$dpid" --nofile=$((free + 3)):$((free + 3)) || fail "prlimit --pid $dpid"
ok
# Scale up, with a short deadline from here on (instance 1, ready, never had to meet it):
# instance 2's passes while the host is at fault.
jq '.apps[0].replicas = 3 | .apps[0].rollback_timeout_ms = 6000' "$T/deployex.json" >"$T/c.json" &&
        mv "$T/c.json" "$T/deployex.json"
wait_for 30 "st | jq -e '.daemon.host_fault.text | test(\"Too many open files\")'" "status to show the host fault"
# Past instance 2's rollback deadline (6 s): held, not rolled back.
sleep 8
run 0 dx plan --json demo
assert_eq "[]" "$(dx ghosts --json demo | jq -c .)" "nothing ghosted"
assert_eq "$pid1" "$(inst_field 1 pid)" "the ready instance keeps its pid"
assert_eq "running" "$(inst_field 1 state)" "and keeps running"
faults=$(grep -c "error: host fault:" "$T/daemon.log")
[ "$faults" -ge 1 ] && [ "$faults" -le 6 ] || fail "the fault is logged once per cause, got $faults lines"
ok
lines=$(wc -l <"$T/daemon.log")
[ "$lines" -lt 400 ] || fail "the daemon does not spin on a host fault: $lines log lines"
ok
run 0 dx status
assert_contains "$OUT" "host fault since" "status text shows the fault"

# The administrator raises the limit and restarts the daemon (SIGQUIT leaves the
# instances running; the next one adopts them): the app converges, nothing ghosted.
# A roomy deadline from here: this part is about recovery, not a loaded machine's boot times.
kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
jq '.apps[0].rollback_timeout_ms = 120000' "$T/deployex.json" >"$T/c.json" && mv "$T/c.json" "$T/deployex.json"
# A shell's soft limit below the hard one: the daemon raises its own soft limit to the hard
# one at start, and the instances it starts get the soft limit it was given back.
setsid prlimit --nofile=256:4096 "$DEPLOYEX" -c "$T/deployex.json" run --debug >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
KILL_GROUPS="$KILL_GROUPS $DAEMON_PID"
wait_for 10 "[ -s '$T/var/run/deployex.pid' ]" "the daemon to start"
nofile() { awk '/^Max open files/ {print $4 " " $5}' "/proc/$1/limits"; }
assert_eq "4096 4096" "$(nofile "$DAEMON_PID")" "the daemon raised its soft open-files limit to the hard one"
wait_for 120 "all_running 3 1.0.0" "3 replicas once the host recovered"
assert_eq "[]" "$(dx ghosts --json demo | jq -c .)" "still nothing ghosted"
assert_eq "$pid1" "$(inst_field 1 pid)" "instance 1 was never touched"
assert_eq "256 4096" "$(nofile "$(inst_field 3 pid)")" "an instance keeps the soft limit the daemon was given"
finish
