# A full var_path, then a read-only one (a small tmpfs in a private mount
# namespace): the daemon still starts (degraded, said once in the log and by
# status, which finds the daemon by its lock when the pid file could not be
# written), the running instance is never touched, no step starts while its
# journal cannot be written, and once var_path is writable again the app
# converges on the published version -- one VM, nothing ghosted.
. "$DEPLOYEX_TOP/tests/integration/lib_mntns.sh"
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47400
HEALTHY_MS=500
demo_config 1 $BASE
mount_tmpfs_var
publish_demo 1.0.0
publish_demo 1.0.1 >/dev/null # built now; published below
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 1 1.0.0" "instance 1 running 1.0.0"
pid1=$(inst_field 1 pid)
assert_eq 1 "$(vm_count demo 1)" "one VM"

# --- var_path full: a restart starts degraded ---
kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID"
cat /dev/zero >"$T/var/filler" 2>/dev/null
assert_eq 0 "$(df --output=avail "$T/var" | tail -n 1 | tr -d ' ')" "var_path is full"
old_pid_file=$(cat "$T/var/run/deployex.pid")
setsid "$DEPLOYEX" -c "$T/deployex.json" run --debug >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
KILL_GROUPS="$KILL_GROUPS $DAEMON_PID"
wait_for 20 "grep -q 'starting degraded' '$T/daemon.log'" "the daemon to start degraded"
wait_for 20 "grep -q 'deployex .* running: 1 apps' '$T/daemon.log'" "the daemon to run"
assert_eq "$old_pid_file" "$(cat "$T/var/run/deployex.pid")" "the pid file could not be rewritten"
s=$(st)
assert_eq "true $DAEMON_PID full true" \
        "$(jqr "$s" '"\(.daemon.running) \(.daemon.pid) \(.daemon.var_path_fault) \(.daemon.degraded)"')" \
        "status finds the daemon by its lock and says it is degraded"
run 0 dx status
assert_contains "$OUT" "degraded: var_path '$T/var' is full" "status text"
assert_eq "$pid1 running" "$(inst_field 1 pid) $(inst_field 1 state)" "the instance adopted, untouched"

# A restart has no journal: its record cannot be written, so it does not start either
# (the record cannot show a stop either: the log and the process say what happened).
mark=$(wc -l <"$T/daemon.log")
run 0 dx restart demo 1
wait_for 60 "tail -n +$mark '$T/daemon.log' | grep -q 'app=demo instance=1 version=1.0.0 restart'" "the restart to be tried"
tail -n +"$mark" "$T/daemon.log" | grep -q "stopping pid" && fail "the restart stopped the instance"
kill -0 "$pid1" || fail "instance 1's process is gone"
ok

# A new version: the step would need its journal; it does not start.
publish_demo 1.0.1
wait_for 30 "grep -q 'host fault: cannot write the journal of demo' '$T/daemon.log'" \
        "the step refused for its journal"
assert_eq "$pid1 1.0.0 running" "$(inst_field 1 pid) $(inst_field 1 version) $(inst_field 1 state)" \
        "nothing moved"
[ ! -e "$T/var/service/demo/1/new" ] && [ ! -e "$T/var/state/demo/journal.json" ] ||
        fail "no phase of the step ran"
ok

# --- read-only: a restart starts degraded again ---
kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID"
mount -o remount,ro "$T/var" || fail "cannot remount var_path read-only"
ok
start_mark=$(wc -l <"$T/daemon.log")
setsid "$DEPLOYEX" -c "$T/deployex.json" run --debug >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
KILL_GROUPS="$KILL_GROUPS $DAEMON_PID"
wait_for 20 "tail -n +$start_mark '$T/daemon.log' | grep -q 'starting degraded'" "a start on a read-only var_path"
wait_for 20 "tail -n +$start_mark '$T/daemon.log' | grep -q 'deployex .* running: 1 apps'" "the daemon to run"
wait_for 30 "tail -n +$start_mark '$T/daemon.log' | grep -q 'host fault: cannot write the journal of demo: Read-only'" \
        "the step refused on a read-only var_path"
s=$(st)
assert_eq "$DAEMON_PID read-only true" \
        "$(jqr "$s" '"\(.daemon.pid) \(.daemon.var_path_fault) \(.daemon.degraded)"')" "status: read-only"
assert_eq "$pid1 1.0.0 running" "$(inst_field 1 pid) $(inst_field 1 version) $(inst_field 1 state)" \
        "still untouched"
assert_eq 1 "$(vm_count demo 1)" "still one VM"
# One line per cause and daemon start, not one per attempt.
faults=$(grep -c "error: host fault:" "$T/daemon.log")
[ "$faults" -le 6 ] || fail "the faults are logged once per cause, got $faults lines"
ok

# --- room again: it converges without a restart ---
mount -o remount,rw "$T/var" && rm "$T/var/filler" || fail "cannot give var_path room again"
ok
wait_for 120 "all_running 1 1.0.1" "1.0.1 deployed once var_path can be written"
assert_eq 1 "$(vm_count demo 1)" "one VM after the deployment"
assert_eq "[]" "$(dx ghosts --json demo | jq -c .)" "nothing ghosted for a host fault"
assert_eq 1 "$(dx history --json demo | jq '[.[] | select(.version == "1.0.1" and .result == "ok")] | length')" \
        "one deployment of 1.0.1 in the history"
assert_eq "false" "$(st | jq -r .daemon.degraded)" "status: no longer degraded"
finish
