# Scale up and down with SIGHUP (and a config edit), apps added and removed,
# unaffected instances untouched; a second daemon on the same var_path refuses.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47330
demo_config 2 $BASE
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "2 replicas"
pid1=$(inst_field 1 pid); pid2=$(inst_field 2 pid)

# A second daemon on the same var_path refuses to start.
run 1 "$DEPLOYEX" -c "$T/deployex.json" run
assert_contains "$ERR" "already runs" "the second daemon says why"
assert_contains "$ERR" "$DAEMON_PID" "and names the first"

# Scale up to 3: only instance 3 is new.
sed -i 's/"replicas": 2/"replicas": 3/' "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 60 "all_running 3 1.0.0" "3 replicas after SIGHUP"
assert_contains "$(answer $((BASE + 2)))" "demo 1.0.0 demo-3@" "instance 3 answers on base+2"
assert_eq "$pid1 $pid2" "$(inst_field 1 pid) $(inst_field 2 pid)" "instances 1 and 2 untouched by scale up"

# Scale down to 1 (the file change alone triggers the reload).
pid3=$(inst_field 3 pid)
sed 's/"replicas": 3/"replicas": 1/' "$T/deployex.json" >"$T/deployex.json.new" && mv "$T/deployex.json.new" "$T/deployex.json"
wait_for 30 "[ \"\$(st | jq '.apps[0].instances | length')\" = 1 ]" "scale down to 1"
kill -0 "$pid2" 2>/dev/null && fail "instance 2 still runs after scale down"
kill -0 "$pid3" 2>/dev/null && fail "instance 3 still runs after scale down"
ok
[ -d "$T/var/service/demo/3" ] && fail "instance 3's directory was not removed"
ok
assert_eq "$pid1" "$(inst_field 1 pid)" "instance 1 untouched by scale down"

# A broken config edit is refused; what runs is not disturbed.
cp "$T/deployex.json" "$T/good.json"
printf '{"source": ' >"$T/deployex.json"
kill -HUP "$DAEMON_PID"
sleep 1
kill -0 "$DAEMON_PID" || fail "a broken config must not stop the daemon"
assert_eq "$pid1" "$(jq -r .pid "$T/var/state/demo/instances/1.json")" "instance 1 untouched by a broken config"
grep -q "reload refused" "$T/daemon.log" || fail "the refused reload is logged"
ok
# Its jobs keep the configuration the daemon accepted: a rollout still goes through.
publish_demo 1.0.1
# (status would read the broken file: look at the instance record itself)
wait_for 60 "[ \"\$(jq -r '.state + \" \" + .version' '$T/var/state/demo/instances/1.json')\" = 'running 1.0.1' ]" \
        "a rollout while the config file is broken"
[ -f "$T/var/state/demo/ghosts.json" ] && [ "$(jq length "$T/var/state/demo/ghosts.json")" != 0 ] &&
        fail "a broken config file ghosted a good release"
ok
pid1=$(jq -r .pid "$T/var/state/demo/instances/1.json")
cp "$T/good.json" "$T/deployex.json"

# Remove the app: its instance stops.
jq '.apps = []' "$T/good.json" >"$T/deployex.json.new" && mv "$T/deployex.json.new" "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 20 "! kill -0 $pid1" "the removed app's instance to stop"
wait_for 5 "grep -q 'app=demo forgotten' '$T/daemon.log'" "the removed app to be forgotten once stopped"
assert_eq "stopped" "$(jq -r .state "$T/var/state/demo/instances/1.json")" "its record says stopped"
kill -0 "$DAEMON_PID" || fail "the daemon lives on without apps"
ok
finish
