# A rollback after a hot upgrade: instance 1 is hot-upgraded to 1.0.1, then
# instance 2's hot upgrade is refused (the app's hooks file answers
# not_installed for it), so 1.0.1 is ghosted and instance 1 rolls back to
# previous/ -- which the hot upgrade rebuilt from 1.0.0's tarball -- and boots
# 1.0.0 in a new process.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47880
HOST=$(hostname -s)

hot_pair erlang hotapp 1.0.0 1.0.1
hot_config hotapp erlang 2 $BASE
cat >"$T/hooks.lua" <<'LUA'
function hot_upgrade(ctx)
        if ctx.instance == 2 then return nil, "refused on purpose for instance 2", "not_installed" end
        return deployex.default.hot_upgrade(ctx)
end
LUA
jq --arg h "$T/hooks.lua" '.apps[0].hooks = $h' "$T/deployex.json" >"$T/c.json" && mv "$T/c.json" "$T/deployex.json"
hot_publish hotapp 1.0.0
start_daemon
wait_for 40 "all_running 2 1.0.0" "2 replicas running 1.0.0"
pid2=$(inst_field 2 pid)

hot_publish hotapp 1.0.1
wait_for 30 "dx ghosts --json hotapp | jq -e 'map(.version) | index(\"1.0.1\")'" "1.0.1 to be ghosted"
assert_contains "$(dx ghosts --json hotapp | jq -r '.[0].reason')" "refused on purpose for instance 2" "ghost reason"
wait_for 40 "all_running 2 1.0.0" "both back on 1.0.0"
assert_eq "$pid2" "$(inst_field 2 pid)" "instance 2 was never touched"
assert_eq "hotapp 1.0.0 hotapp-1@$HOST count=1" "$(hit $BASE)" "instance 1 rolled back to a fresh 1.0.0"
h=$(dx history --json hotapp)
assert_eq "hot ok 1,hot failed 2,rollback ok 1" \
        "$(jqr "$h" '[.[] | select(.version == "1.0.1" or .kind == "rollback") | "\(.kind) \(.result) \(.instance)"] | join(",")')" \
        "history: hot on 1, refused on 2, rollback of 1"
assert_contains "$(cat "$(root_of hotapp 1 current)/releases/start_erl.data")" " 1.0.0" "current/ is 1.0.0 again"
finish
