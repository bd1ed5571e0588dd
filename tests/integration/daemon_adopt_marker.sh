# A record that lost its instance's pid (a write that failed on a full disk,
# a record removed) must not make the next daemon start a second VM next to
# the one running: the process is found by its marker and adopted.  With the
# record, it keeps running; without one (its version unknown) it is stopped
# before its release is deployed again -- never two VMs at once.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47390
HEALTHY_MS=500
demo_config 2 $BASE
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "2 replicas running"
pid1=$(inst_field 1 pid); pid2=$(inst_field 2 pid)

kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID"
# Instance 1's record forgets its process; instance 2's record is gone.
jq '.pid = 0 | .proc_start_time = 0 | .state = "stopped"' "$T/var/state/demo/instances/1.json" \
        >"$T/r.json" && mv "$T/r.json" "$T/var/state/demo/instances/1.json"
rm "$T/var/state/demo/instances/2.json"
# Watch for a second VM of instance 2 while the new daemon settles.
( end=$(( $(date +%s) + 40 )); while [ "$(date +%s)" -lt "$end" ]; do
        [ "$(vm_count demo 2)" -le 1 ] || { pgrep -af -- "$T/var/service/demo/2/" >"$T/twice"; break; }
        sleep 0.05
done ) &
watcher=$!
start_daemon
wait_for 60 "all_running 2 1.0.0" "both running again"
wait_for 60 "[ \"\$(inst_field 2 last_deploy.kind)\" = full ]" "instance 2 settled"
kill "$watcher" 2>/dev/null
[ ! -e "$T/twice" ] || fail "a second VM of instance 2 ran next to the first: $(cat "$T/twice")"
ok
assert_eq "$pid1" "$(inst_field 1 pid)" "instance 1's process adopted, not restarted"
assert_eq "1 1" "$(vm_count demo 1) $(vm_count demo 2)" "exactly one VM per instance"
grep -q "pid $pid2 runs without a record of it; adopting it" "$T/daemon.log" ||
        fail "the adoption by marker is logged"
ok
finish
