# The daemon dies (kill -9) while release_handler may be working on the node:
# the next daemon cannot know how far it got, so it deploys the version in
# full from new/ (history: hot failed "interrupted", then full ok).  The
# app's hooks file slows hot_upgrade down so that the kill lands inside it.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47870
HOST=$(hostname -s)

hot_pair erlang hotapp 1.0.0 1.0.1
hot_config hotapp erlang 1 $BASE
cat >"$T/hooks.lua" <<'LUA'
function hot_upgrade(ctx)
        deployex.sleep_ms(4000)
        return deployex.default.hot_upgrade(ctx)
end
LUA
jq --arg h "$T/hooks.lua" '.apps[0].hooks = $h' "$T/deployex.json" >"$T/c.json" && mv "$T/c.json" "$T/deployex.json"
hot_publish hotapp 1.0.0
start_daemon
wait_for 40 "all_running 1 1.0.0" "1.0.0 running"
pid=$(inst_field 1 pid)

hot_publish hotapp 1.0.1
wait_for 20 "jq -e '.phase == \"hot_upgrade\"' '$T/var/state/hotapp/journal.json'" "the hot_upgrade phase"
assert_eq "deploy-hot" "$(jq -r .action "$T/var/state/hotapp/journal.json")" "journal: the action"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
assert_eq "upgrading" "$(inst_field 1 state)" "the record says upgrading"
assert_eq "$pid" "$(inst_field 1 pid)" "the instance outlived the daemon"

start_daemon
wait_for 40 "all_running 1 1.0.1" "1.0.1 running after the restart"
[ "$(inst_field 1 pid)" != "$pid" ] || fail "a full deployment started a new process"
ok
assert_eq "hotapp 1.0.1 hotapp-1@$HOST count=1" "$(hit $BASE)" "1.0.1 answers"
h=$(dx history --json hotapp)
assert_eq "hot failed,full ok" "$(jqr "$h" '[.[] | select(.version == "1.0.1") | "\(.kind) \(.result)"] | join(",")')" \
        "history: interrupted hot attempt, then full"
assert_contains "$(jqr "$h" '[.[] | select(.kind == "hot")][0].reason')" "interrupted by a daemon restart" "history: why"
assert_contains "$(cat "$(root_of hotapp 1 previous)/releases/start_erl.data")" " 1.0.0" "previous/ holds 1.0.0"
[ ! -f "$T/var/state/hotapp/journal.json" ] || fail "the journal is cleared"
ok
finish
