# Crash-only: kill -9 (and SIGQUIT) of the daemon, idle and mid-rollout at
# several points; the next daemon adopts the running instances (same pids, no
# restart counted), finishes the journaled step and converges, with exactly
# one VM per instance.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47340
HEALTHY_MS=2000
demo_config 3 $BASE
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 3 1.0.0" "3 replicas"
pids=$(st | jq -r '[.apps[0].instances[].pid] | map(tostring) | join(" ")')

one_vm_each() { [ "$(vm_count demo 1)" = 1 ] && [ "$(vm_count demo 2)" = 1 ] && [ "$(vm_count demo 3)" = 1 ]; }

# Idle kill -9: adoption keeps every pid, counts nothing.
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
start_daemon
sleep 2
assert_eq "$pids" "$(st | jq -r '[.apps[0].instances[].pid] | map(tostring) | join(" ")')" "same pids after kill -9"
assert_eq "0 0 0" "$(st | jq -r '[.apps[0].instances[] | .crash_restarts + .forced_restarts] | map(tostring) | join(" ")')" "nothing counted"
grep -q "adopted pid" "$T/daemon.log" || fail "adoption is logged"
ok

# SIGQUIT: exits, leaves the instances running; the next daemon adopts them.
kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID"; rc=$?
assert_eq 0 "$rc" "SIGQUIT exit status"
for p in $pids; do kill -0 "$p" || fail "pid $p died with SIGQUIT"; done
ok
start_daemon
sleep 1
assert_eq "$pids" "$(st | jq -r '[.apps[0].instances[].pid] | map(tostring) | join(" ")')" "same pids after SIGQUIT"

# Mid-rollout: kill -9 as soon as the step is journaled, then again while
# instance 2 is starting 1.0.1; each new daemon finishes the rollout.
publish_demo 1.0.1
wait_for 20 "[ -f '$T/var/state/demo/journal.json' ]" "the first step to be journaled"
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
start_daemon
wait_for 60 "[ \"\$(inst_field 2 version)\" = 1.0.1 ] && [ \"\$(inst_field 2 state)\" = starting ]" "instance 2 starting 1.0.1"
pid3=$(inst_field 3 pid)
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
start_daemon
wait_for 90 "all_running 3 1.0.1" "convergence on 1.0.1"
# Instance 3 still ran 1.0.0 when the daemon died: the next one adopted that very process.
grep -q "instance=3 version=1.0.0 adopted pid $pid3 " "$T/daemon.log" ||
        fail "instance 3's pid $pid3 was adopted, not restarted"
ok
wait_for 10 "one_vm_each" "exactly one VM per instance"
for n in 1 2 3; do
        assert_contains "$(answer $((BASE + n - 1)))" "demo 1.0.1 demo-$n@" "instance $n answers 1.0.1"
done
assert_eq "0" "$(st | jq '[.apps[0].instances[].crash_restarts] | add')" "no crash counted across daemon deaths"
assert_eq "3" "$(dx history --json demo | jq '[.[] | select(.version == "1.0.1" and .result == "ok")] | length')" "one ok event per instance"
[ -f "$T/var/state/demo/journal.json" ] && fail "the journal is cleared once converged"
ok
finish
