# A hot upgrade that fails past the point of no return (the relup raises
# after loading the new code; the node restarts itself in place on the old
# release) falls back to a full deployment of the same version: history
# "hot failed" then "full ok", a new process running 1.0.1, nothing ghosted,
# previous/ a clean 1.0.0.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47860
HOST=$(hostname -s)

hot_pair erlang hotapp 1.0.0 1.0.1 restart
hot_config hotapp erlang 1 $BASE
hot_publish hotapp 1.0.0
start_daemon
wait_for 40 "all_running 1 1.0.0" "1.0.0 running"
hit $BASE >/dev/null
pid=$(inst_field 1 pid)

hot_publish hotapp 1.0.1 '["eval hotapp_release:migrate()"]'
wait_for 40 "all_running 1 1.0.1" "1.0.1 running"
[ "$(inst_field 1 pid)" != "$pid" ] || fail "the fallback started a new process"
ok
assert_eq "hotapp 1.0.1 hotapp-1@$HOST count=1" "$(hit $BASE)" "1.0.1 from a fresh VM"
h=$(dx history --json hotapp)
assert_eq "hot failed,full ok" "$(jqr "$h" '[.[] | select(.version == "1.0.1") | "\(.kind) \(.result)"] | join(",")')" \
        "history: the hot attempt, then the full deployment"
assert_contains "$(jqr "$h" '[.[] | select(.kind == "hot")][0].reason')" "installed: release_handler:install_release" \
        "history: where it failed"
assert_contains "$(jqr "$h" '[.[] | select(.kind == "hot")][0].reason')" "deploying it in full" "history: what came next"
assert_eq "[]" "$(dx ghosts --json hotapp | jq -c .)" "nothing ghosted"
assert_eq "1" "$(grep -c 'migrated hotapp 1.0.1' "$T/mark")" "the pre-command ran once, before the hot attempt"
assert_contains "$(cat "$(root_of hotapp 1 previous)/releases/start_erl.data")" " 1.0.0" "previous/ holds 1.0.0"
[ ! -d "$(root_of hotapp 1 previous)/lib/hotapp-1.0.1" ] || fail "previous/ is a clean 1.0.0"
ok
assert_eq "1.0.0" "$(jq -r .previous_version "$T/var/state/hotapp/instances/1.json")" "record: previous_version"
assert_eq "0" "$(inst_field 1 crash_restarts)" "the fallback is not a crash"
finish
