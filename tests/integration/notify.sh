# Notifications and the watchdog with a real daemon, real Erlang releases and
# a webhook receiver that verifies the HMAC: deployed events delivered and
# signed; events queued while the receiver is down during a rollout and
# delivered when it is back; the queue surviving a daemon restart; a delivery
# failing 24 h after its first try given up into failed/; Slack's
# format; status showing the queue; the watchdog warning, then restarting
# (counted as forced), then a VM over its share of the process limit.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
HOOK=47480
HEALTHY_MS=500 demo_config 2 47470
printf 'hook-s3cret\n' >"$T/hook.key" && chmod 600 "$T/hook.key"
jq --arg u "http://127.0.0.1:$HOOK/hook" --arg s "http://127.0.0.1:$HOOK/slack" --arg k "$T/hook.key" \
        '.notify = [{url: $u, secret_file: $k},
                    {url: $s, format: "slack", events: ["deployed"], secret_file: $k}]' \
        "$T/deployex.json" >"$T/d.tmp" && mv "$T/d.tmp" "$T/deployex.json"
run 0 dx check --offline

RECV_PID=
start_receiver() {
        rm -f "$T/recv.ready"
        setsid python3 "$DEPLOYEX_TOP/tests/integration/webhook_receiver.py" $HOOK "$T/hook.key" \
                "$T/hooks.jsonl" "$T/recv.ready" >"$T/recv.out" 2>&1 &
        RECV_PID=$!
        KILL_GROUPS="${KILL_GROUPS:-} $RECV_PID"
        wait_for 10 "[ -f '$T/recv.ready' ]" "the webhook receiver"
}
stop_receiver() { kill -KILL "-$RECV_PID" 2>/dev/null; wait "$RECV_PID" 2>/dev/null; }
delivered() { # EVENT VERSION -> how many /hook deliveries of it
        [ -f "$T/hooks.jsonl" ] || { echo 0; return; }
        jq -s --arg e "$1" --arg v "$2" '[.[] | select(.path == "/hook" and .body.event == $e and .body.version == $v)] | length' "$T/hooks.jsonl"
}
queued() { ls "$T/var/state/notify/queue" 2>/dev/null | grep -c '\.json$'; }

start_receiver
start_daemon
# The first run records where things stand; then the first deployment.
wait_for 10 "[ -f '$T/var/state/notify/cursor.json' ]" "the notify job's first run"
publish_demo 1.0.0
wait_for 60 "all_running 2 1.0.0" "1.0.0 on both instances"
wait_for 20 "[ \"\$(delivered deployed 1.0.0)\" = 2 ]" "two deployed events"
assert_eq "true" "$(jq -s 'all(.valid)' "$T/hooks.jsonl")" "every POST carries a valid X-Deployex-Signature"
assert_eq "1.0.0" "$(jq -rs '[.[] | select(.path == "/hook")][0] | .body.version' "$T/hooks.jsonl")" "the event body"
assert_eq "deployed" "$(jq -rs '[.[] | select(.path == "/hook")][0] | .event' "$T/hooks.jsonl")" "X-Deployex-Event"
assert_eq "true" "$(jq -s '[.[] | select(.path == "/hook")] | all(.delivery == .body.id)' "$T/hooks.jsonl")" "X-Deployex-Delivery is the event id"
wait_for 10 "[ \"\$(jq -s '[.[] | select(.path == \"/slack\")] | length' '$T/hooks.jsonl')\" = 2 ]" "Slack deliveries"
assert_contains "$(jq -rs '[.[] | select(.path == "/slack")][0].body.text' "$T/hooks.jsonl")" "runs 1.0.0" "Slack's text"

# The receiver is down during a rollout: queued, shown in status, delivered later.
stop_receiver
publish_demo 1.0.1
wait_for 60 "all_running 2 1.0.1" "the rollout to 1.0.1"
wait_for 10 "[ \"\$(queued)\" -ge 2 ]" "the events to wait in the queue"
wait_for 10 "dx status | grep -q 'notify: .* queued, last error: '" "status to show the failing deliveries"
assert_eq "0" "$(delivered deployed 1.0.1)" "nothing delivered while down"
start_receiver
wait_for 60 "[ \"\$(delivered deployed 1.0.1)\" -ge 2 ]" "the queued events after the receiver is back"
wait_for 30 "[ \"\$(queued)\" = 0 ]" "an empty queue"

# The queue survives a daemon restart.
stop_receiver
publish_demo 1.0.2
wait_for 60 "all_running 2 1.0.2" "the rollout to 1.0.2"
wait_for 10 "[ \"\$(queued)\" -ge 2 ]" "1.0.2's events in the queue"
kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
# After 24 h of failed attempts a delivery is given up and kept in failed/: age one
# queued Slack delivery (no daemon runs to rewrite it) to a first try long ago.
old=$(grep -l '/slack"' "$T/var/state/notify/queue"/*.json | head -n 1)
[ -n "$old" ] || fail "no Slack delivery in the queue"; ok
jq -c '.first_at = 1000 | .next_at = 0' "$old" >"$T/q.tmp" && mv "$T/q.tmp" "$old"
start_receiver
sleep 1
assert_eq "0" "$(delivered deployed 1.0.2)" "no daemon, no delivery"
# The receiver down again: the aged delivery fails once more, and that is its last try.
stop_receiver
start_daemon
wait_for 30 "[ -f '$T/var/state/notify/failed/$(basename "$old")' ] && [ ! -e '$old' ]" "the day-old delivery given up"
grep -q "notify: gave up on deployed $(jq -r .id "$T/var/state/notify/failed/$(basename "$old")") after" "$T/daemon.log" ||
        fail "the give-up is not logged"; ok
start_receiver
wait_for 60 "[ \"\$(delivered deployed 1.0.2)\" -ge 2 ]" "the queued events after the restart"
# At least once, each with its id: six distinct deployed events on /hook.
assert_eq "6" "$(jq -s '[.[] | select(.path == "/hook" and .body.event == "deployed") | .body.id] | unique | length' "$T/hooks.jsonl")" "six distinct events"

# The watchdog: a 1 MB memory threshold every VM is over.  warn: logged, shown, announced.
jq '.apps[0].watchdog = {interval_ms: 1000, memory_mb: 1, action: "warn"}' "$T/deployex.json" >"$T/d.tmp" &&
        mv "$T/d.tmp" "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 40 "[ \"\$(jq -s '[.[] | select(.path == \"/hook\" and .body.event == \"watchdog\")] | length' '$T/hooks.jsonl')\" -ge 2 ]" "watchdog events"
assert_contains "$(jq -rs '[.[] | select(.body.event == "watchdog")][0].body.reason' "$T/hooks.jsonl")" "MB over 1 MB" "the reason"
run 0 dx status demo
assert_contains "$OUT" "watchdog: instance 1: memory" "status shows the crossing"
run 0 dx status --json demo
assert_contains "$(jqr "$OUT" '.apps[0].instances[0].watchdog.reason')" "MB over 1 MB" "status --json shows the crossing"
assert_eq "warn" "$(jqr "$OUT" '.apps[0].instances[0].watchdog.action')" "status --json: its action"
grep -q "watchdog: demo/1 memory" "$T/daemon.log" || fail "the crossing is logged"; ok
assert_eq "0 0" "$(inst_field 1 forced_restarts) $(inst_field 2 forced_restarts)" "warn restarts nothing"
# restart: a forced restart, counted as such.  The crossings end first (a threshold no VM
# reaches), so that the next ones are new: removing the cursor instead races with a
# notify job that is running and saves the old one.
jq '.apps[0].watchdog.memory_mb = 1000000' "$T/deployex.json" >"$T/d.tmp" && mv "$T/d.tmp" "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 30 "jq -e '.instances == {}' '$T/var/state/demo/watchdog.json'" "the crossings to end"
jq '.apps[0].watchdog.memory_mb = 1 | .apps[0].watchdog.action = "restart"' "$T/deployex.json" >"$T/d.tmp" &&
        mv "$T/d.tmp" "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 60 "[ \"\$(inst_field 1 forced_restarts)\" -ge 1 ]" "a forced restart by the watchdog"
grep -q '"via":"watchdog"' "$T/var/state/audit.jsonl" || fail "the restart is audited as the watchdog's"; ok
forced=$(dx metrics | awk '$1 == "deployex_instance_forced_restarts_total{app=\"demo\",instance=\"1\"}" { print $2 }')
[ "${forced:-0}" -ge 1 ] || fail "the forced restart is not in the metrics: '$forced'"; ok

# processes_pct: the VM's processes against its limit (1 %: about 2600 of 262144). Nothing
# is over it until instance 2 spawns 3000 idle processes; then instance 2 alone crosses it.
jq '.apps[0].watchdog = {interval_ms: 1000, processes_pct: 1, action: "warn"}' "$T/deployex.json" >"$T/d.tmp" &&
        mv "$T/d.tmp" "$T/deployex.json"
kill -HUP "$DAEMON_PID"
# The memory crossings' restarts done first (nothing left to plan): a VM about to be
# restarted would take the spawned processes with it.
wait_for 60 "all_running 2 1.0.2 && dx plan --json | jq -e '[.apps[].steps[]] | length == 0' &&
             jq -e '.instances == {}' '$T/var/state/demo/watchdog.json'" "no restart pending, no instance over 1 % of its processes"
crossings() { # FIGURE INSTANCE -> the watchdog events about that figure of that instance
        jq -s --arg f "$1 " --argjson n "$2" '[.[] | select(.path == "/hook" and .body.event == "watchdog" and .body.instance == $n
                                          and (.body.reason | startswith($f)))] | length' "$T/hooks.jsonl"
}
procs() { crossings processes "$1"; }
assert_eq "0 0" "$(procs 1) $(procs 2)" "no processes crossing yet"
run 0 dx eval demo 2 '[spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, 3000)], ok.'
wait_for 60 "[ \"\$(procs 2)\" = 1 ]" "a watchdog event for instance 2's processes"
reason=$(jq -rs '[.[] | select(.body.event == "watchdog" and .body.instance == 2)][-1].body.reason' "$T/hooks.jsonl")
case "$reason" in "processes "[0-9]*" of "[0-9]*", over 1%") ok ;; *) fail "the processes reason: $reason" ;; esac
run 0 dx status demo
assert_contains "$OUT" "watchdog: instance 2: processes" "status shows the processes crossing"
assert_eq "0" "$(procs 1)" "instance 1 is under its limit"

# atoms_pct and ports_pct, with action restart: instance 1 makes atoms past 2 % of its atom
# limit, instance 2 opens UDP sockets (ports) past 1 % of its port limit, each counted from
# the VM's own limits.  Each is announced with its figure and restarted (forced).
jq '.apps[0].watchdog = {interval_ms: 1000, atoms_pct: 2, ports_pct: 1, action: "restart"}' "$T/deployex.json" >"$T/d.tmp" &&
        mv "$T/d.tmp" "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 30 "jq -e '.instances == {}' '$T/var/state/demo/watchdog.json'" "no instance over 2 % of its atoms or 1 % of its ports"
assert_eq "0 0 0 0" "$(crossings atoms 1) $(crossings atoms 2) $(crossings ports 1) $(crossings ports 2)" "no atoms or ports crossing yet"
forced1=$(inst_field 1 forced_restarts) forced2=$(inst_field 2 forced_restarts)
run 0 dx eval demo 1 'N = erlang:system_info(atom_limit) * 2 div 100 + 1000 - erlang:system_info(atom_count),
        [list_to_atom("wd_atom_" ++ integer_to_list(I)) || I <- lists:seq(1, N)], ok.'
run 0 dx eval demo 2 'N = erlang:system_info(port_limit) div 100 + 100, Self = self(),
        spawn(fun() -> [{ok, _} = gen_udp:open(0) || _ <- lists:seq(1, N)], Self ! opened,
                       receive stop -> ok end end),
        receive opened -> ok after 10000 -> timeout end.'
assert_eq "ok" "$OUT" "instance 2 holds its UDP sockets"
wait_for 60 "[ \"\$(crossings atoms 1)\" = 1 ]" "a watchdog event for instance 1's atoms"
wait_for 30 "[ \"\$(crossings ports 2)\" = 1 ]" "a watchdog event for instance 2's ports"
reason=$(jq -rs '[.[] | select(.body.event == "watchdog" and .body.instance == 1)][-1].body.reason' "$T/hooks.jsonl")
case "$reason" in "atoms "[0-9]*" of "[0-9]*", over 2%") ok ;; *) fail "the atoms reason: $reason" ;; esac
reason=$(jq -rs '[.[] | select(.body.event == "watchdog" and .body.instance == 2)][-1].body.reason' "$T/hooks.jsonl")
case "$reason" in "ports "[0-9]*" of "[0-9]*", over 1%") ok ;; *) fail "the ports reason: $reason" ;; esac
grep -q "watchdog: demo/1 atoms .*; restarting it" "$T/daemon.log" || fail "the atoms crossing is logged"; ok
grep -q "watchdog: demo/2 ports .*; restarting it" "$T/daemon.log" || fail "the ports crossing is logged"; ok
wait_for 60 "[ \"\$(inst_field 1 forced_restarts)\" -gt $forced1 ] && [ \"\$(inst_field 2 forced_restarts)\" -gt $forced2 ]" \
        "a forced restart of each by the watchdog"
assert_eq "0 0" "$(crossings ports 1) $(crossings atoms 2)" "each instance crossed only its own figure"
finish
