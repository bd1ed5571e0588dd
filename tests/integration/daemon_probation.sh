# Probation: a release that boots, becomes ready, then halts a few seconds
# later is ghosted after max_probation_crashes crashes within
# rollback_timeout_ms, and every replica ends on the previous version.
# status --json explains it: ready, target_version, last_error.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47340
ROLLBACK_MS=90000
HEALTHY_MS=500
demo_config 2 $BASE
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "2 replicas running 1.0.0"
s=$(st)
assert_eq "true true" "$(jqr "$s" '[.apps[0].instances[].ready] | map(tostring) | join(" ")')" "both ready"
assert_eq "null" "$(jqr "$s" '.apps[0].instances[0].target_version')" "no step in flight"
assert_eq "null" "$(jqr "$s" '.apps[0].instances[0].last_error')" "no error yet"

# The stderr logs outlive processes and versions: a line an earlier process wrote (stamped
# an hour ago here) is not the cause of a later exit, and no reason may quote it.
for n in 1 2; do
        printf '%s stale line of an earlier process\n' "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.000Z)" \
                >>"$T/log/demo/demo-$n-stderr.log"
done
# 1.0.1 boots fine and is ready after 500 ms, then halts (status 3, silently) 2.5 s after every boot.
publish_demo 1.0.1 '{crash_after_ms, 2500}'
wait_for 90 "dx ghosts --json demo | jq -e '.[] | select(.version == \"1.0.1\")'" "1.0.1 to be ghosted"
reason=$(dx ghosts --json demo | jq -r '.[] | select(.version == "1.0.1") | .reason')
assert_contains "$reason" "3 crashes within 90000 ms of deploy of 1.0.1" "ghost reason names probation"
assert_contains "$reason" "exited with status 3" "ghost reason names the exit"
assert_not_contains "$reason" "stale line" "the ghost does not quote an earlier process's stderr"
wait_for 60 "all_running 2 1.0.0" "every replica back on 1.0.0"
assert_contains "$(answer $BASE)" "demo 1.0.0" "instance 1 answers with 1.0.0"
assert_contains "$(answer $((BASE + 1)))" "demo 1.0.0" "instance 2 answers with 1.0.0"
s=$(st)
assert_contains "$(jqr "$s" '.apps[0].instances[0].last_error.text')" "on probation" \
        "instance 1's last_error says it crashed on probation"
assert_contains "$(jqr "$s" '.apps[0].instances[0].last_error.at')" "T" "last_error has a time"
assert_not_contains "$(jqr "$s" '.apps[0].instances[1].last_error.text')" "stale line" \
        "nor does instance 2's last_error"
run 0 dx status
assert_contains "$OUT" "last error" "status text shows the last error"
# 1.0.1 was ready at least once before it crashed: probation counted it anyway.
h=$(dx history --json demo)
assert_eq "failed" "$(jqr "$h" '[.[] | select(.version == "1.0.1" and .kind == "full" and .result == "failed")][0].result')" \
        "the failed deployment is in the history"
assert_contains "$(jqr "$h" '[.[] | select(.version == "1.0.1" and .result == "failed")][0].reason')" \
        "crashes within" "the history says why"
grep -q "app=demo: .*ghosted\|version=1.0.1 ghosted" "$T/daemon.log" || fail "the daemon logs the ghost"
ok
# Log lines carry an RFC 3339 time (stderr is not journald's here).
head -n 1 "$T/daemon.log" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z deployex: ' ||
        fail "daemon log lines start with an RFC 3339 time: $(head -n 1 "$T/daemon.log")"
ok
finish
