# A version that fails at boot is rolled back and ghosted by probation, the
# other replicas untouched, and never retried -- however short healthy_after_ms
# is: a relx release that fails to boot lives ~2 s writing its crash dump, and
# that must never count as ready.  Unpin onto the ghost does nothing; pause
# holds a rollout until resume.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47320
# Long enough that probation (3 crashes) always decides first, even on a loaded machine
# where a boot that fails takes 5 s to die: the reason is the crashes, not a timeout.
ROLLBACK_MS=90000
HEALTHY_MS=500
demo_config 3 $BASE
# A webhook receiver that checks the HMAC: the rollback and the ghost are announced.
HOOK=47326
printf 'hook-s3cret\n' >"$T/hook.key" && chmod 600 "$T/hook.key"
jq --arg u "http://127.0.0.1:$HOOK/hook" --arg k "$T/hook.key" \
        '.notify = [{url: $u, secret_file: $k, events: ["rolled_back", "ghosted"]}]' \
        "$T/deployex.json" >"$T/d.tmp" && mv "$T/d.tmp" "$T/deployex.json"
setsid python3 "$DEPLOYEX_TOP/tests/integration/webhook_receiver.py" $HOOK "$T/hook.key" \
        "$T/hooks.jsonl" "$T/recv.ready" >"$T/recv.out" 2>&1 &
KILL_GROUPS="${KILL_GROUPS:-} $!"
wait_for 10 "[ -f '$T/recv.ready' ]" "the webhook receiver"
event() { # EVENT -> "VERSION FROM" of each event delivered (at least once: by id), one line each
        [ -f "$T/hooks.jsonl" ] || return 0
        jq -rs --arg e "$1" '[.[] | select(.valid and .body.event == $e)] | unique_by(.body.id) | .[] |
                "\(.body.version) \(.body.from)"' "$T/hooks.jsonl"
}
publish_demo 1.0.0
start_daemon
wait_for 10 "[ -f '$T/var/state/notify/cursor.json' ]" "the notify job's first run"
wait_for 60 "all_running 3 1.0.0" "3 replicas running 1.0.0"
pid2=$(inst_field 2 pid); pid3=$(inst_field 3 pid)

# 1.0.1 cannot boot: instance 1 crashes until the rollback deadline, then goes back.
publish_demo 1.0.1 crash
wait_for 90 "dx ghosts --json demo | jq -e '.[] | select(.version == \"1.0.1\")'" "1.0.1 to be ghosted"
wait_for 30 "[ \"\$(inst_field 1 version)\" = 1.0.0 ] && [ \"\$(inst_field 1 state)\" = running ]" "instance 1 back on 1.0.0"
assert_contains "$(answer $BASE)" "demo 1.0.0" "instance 1 answers with 1.0.0 again"
assert_eq "$pid2" "$(inst_field 2 pid)" "instance 2 untouched"
assert_eq "$pid3" "$(inst_field 3 pid)" "instance 3 untouched"
reason=$(dx ghosts --json demo | jq -r '.[0].reason')
assert_contains "$reason" "3 crashes within 90000 ms of deploy of 1.0.1" "ghost reason: probation"
assert_contains "$reason" "exited with status" "ghost reason: the exit"
assert_contains "$(inst_field 1 last_error.text)" "1.0.1" "last_error says what failed"
assert_eq "null" "$(inst_field 2 last_error)" "instance 2 has no error"
assert_eq "[]" "$(dx history --json demo | jq -c '[.[] | select(.version == "1.0.1" and .instance != 1)]')" "1.0.1 never reached instance 2 or 3"
h=$(dx history --json demo)
assert_eq "rollback" "$(jqr "$h" '[.[] | select(.kind == "rollback")][0].kind')" "a rollback event"
assert_eq "failed" "$(jqr "$h" '[.[] | select(.version == "1.0.1" and .kind == "full")][0].result')" "the failed deploy is recorded"
s=$(st)
assert_contains "$(jqr "$s" .apps[0].desired.error)" "ghosted" "status says the desired version is ghosted"
assert_eq "1.0.1" "$(jqr "$s" .apps[0].ghosts[0])" "status lists the ghost"
assert_eq 1 "$(dx metrics | awk '$1 == "deployex_rollbacks_total{app=\"demo\"}" { print $2 }')" "the rollback counted in the metrics"
wait_for 30 "[ -n \"\$(event rolled_back)\" ] && [ -n \"\$(event ghosted)\" ]" "the rolled_back and ghosted events"
assert_eq "1.0.0 1.0.1" "$(event rolled_back)" "rolled_back: to 1.0.0 from 1.0.1, signed, once"
assert_eq "1.0.1" "$(event ghosted | cut -d' ' -f1)" "ghosted: 1.0.1, signed, once"
# No retry: it stays put.
sleep 3
assert_eq "1.0.0" "$(inst_field 1 version)" "no retry of a ghosted version"
assert_eq "1" "$(dx history --json demo | jq '[.[] | select(.kind == "rollback")] | length')" "one rollback only"
run 0 dx plan --json
assert_eq "0" "$(jqr "$OUT" '[.apps[0].steps[] | select(.runnable)] | length')" "nothing to do"

# Pin to 1.0.0 (what runs), then unpin onto the ghosted 1.0.1: nothing happens.
pid1=$(inst_field 1 pid)
run 0 dx pin demo 1.0.0
sleep 1.5
run 0 dx unpin demo
sleep 1.5
assert_eq "$pid1 $pid2 $pid3" "$(st | jq -r '[.apps[0].instances[].pid] | map(tostring) | join(" ")')" "pin/unpin onto a ghost moves nothing"

# Pause: a new version is planned but held; resume rolls it out.
run 0 dx pause demo
publish_demo 1.0.2
sleep 2
assert_eq "1.0.0" "$(inst_field 1 version)" "paused: nothing deployed"
run 0 dx plan --json
assert_contains "$(jqr "$OUT" '.apps[0].steps[0].reason')" "paused" "the plan says paused"
assert_eq "true" "$(st | jq -r .apps[0].paused)" "status says paused"
# Crash restarts continue while paused.
kill -KILL "$(inst_field 3 pid)"
wait_for 20 "[ \"\$(inst_field 3 crash_restarts)\" = 1 ] && [ \"\$(inst_field 3 state)\" = running ]" "a crash restart while paused"
run 0 dx resume demo
wait_for 60 "all_running 3 1.0.2" "1.0.2 after resume"
finish
