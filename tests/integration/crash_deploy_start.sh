# A daemon killed between a deployment's end of journal and the record its
# start writes (crash point deploy-full/cleared: the journal is gone, the
# record still says the instance is deploying) finishes that deployment on
# its next start: the instance is started on probation and its readiness is
# recorded as the deployment's "ok" history line -- none lost (DESIGN §5,
# "The daemon itself").  The instance was not running when the deployment
# began (a first deployment), so no stop wrote the record in between.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
demo_config 1 47460
publish_demo 1.0.0
DEPLOYEX_DEBUG_CRASH_AT=deploy-full/cleared setsid "$DEPLOYEX" -c "$T/deployex.json" run --debug \
        >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
KILL_GROUPS="${KILL_GROUPS:-} $DAEMON_PID"
wait "$DAEMON_PID"; rc=$?
assert_eq 137 "$rc" "the daemon died by SIGKILL at deploy-full/cleared"
grep -q 'crash point deploy-full/cleared:1 reached' "$T/daemon.log" || fail "the crash point was reached"
ok
start_daemon
wait_for 60 "all_running 1 1.0.0" "instance 1 running 1.0.0 after the restart"
assert_eq 1 "$(dx history --json demo | jq '[.[] | select(.kind == "full" and .version == "1.0.0" and .result == "ok")] | length')" \
        "the deployment of 1.0.0 in the history"
assert_eq null "$(inst_field 1 target_version)" "no step in progress once it runs"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
finish
