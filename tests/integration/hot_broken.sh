# A relup that fails in check_install_release (it loads a module the release
# does not have): stage not_installed, the version is ghosted, the node keeps
# its process, its state and its release, and release_handler forgets the
# unpacked release -- so that a good hot upgrade afterwards goes through.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47840
HOST=$(hostname -s)

hot_pair erlang hotapp 1.0.0 1.0.1 broken
hot_config hotapp erlang 1 $BASE
hot_publish hotapp 1.0.0
start_daemon
wait_for 40 "all_running 1 1.0.0" "1.0.0 running"
hit $BASE >/dev/null
pid=$(inst_field 1 pid)

hot_publish hotapp 1.0.1
wait_for 30 "dx ghosts --json hotapp | jq -e 'map(.version) | index(\"1.0.1\")'" "1.0.1 to be ghosted"
reason=$(dx ghosts --json hotapp | jq -r '.[] | select(.version == "1.0.1") | .reason')
assert_contains "$reason" "check_install_release" "the ghost names the failing step"
assert_contains "$reason" "hotapp_no_such_module" "the ghost says what is missing"

# Untouched: same process, same state, the old code, the old release permanent.
assert_eq "$pid" "$(inst_field 1 pid)" "same process"
assert_eq "hotapp 1.0.0 hotapp-1@$HOST count=2" "$(hit $BASE)" "state and code untouched"
s=$(st)
assert_eq "running 1.0.0" "$(jqr "$s" '.apps[0].instances[0] | "\(.state) \(.version)"')" "status: running 1.0.0"
assert_eq "hot failed" "$(jqr "$s" '.apps[0].instances[0].last_deploy | "\(.kind) \(.result)"')" "status: hot failed"
h=$(history_of hotapp '.[-1]')
assert_eq "hot failed 1.0.0 1.0.1" "$(jqr "$h" '"\(.kind) \(.result) \(.from) \(.version)"')" "history: hot failed"
assert_contains "$(jqr "$h" .reason)" "not_installed" "history: the stage"
run 0 node_rpc 1 release_handler which_releases
assert_not_contains "$OUT" '"1.0.1"' "release_handler forgot 1.0.1 (set_removed)"
assert_contains "$OUT" 'permanent' "1.0.0 still permanent"
[ ! -e "$(root_of hotapp 1 new)" ] || fail "new/ removed"
ok
sleep 1
assert_eq "$pid" "$(inst_field 1 pid)" "the ghosted version is not retried"

# A good relup from 1.0.0 afterwards upgrades the same node.
hot_pair erlang hotapp 1.0.0 1.0.2
hot_publish hotapp 1.0.2
wait_for 40 "all_running 1 1.0.2" "1.0.2 running"
assert_eq "$pid" "$(inst_field 1 pid)" "same process after the good upgrade"
assert_eq "hotapp 1.0.2 hotapp-1@$HOST count=3 upgraded_from=1.0.0" "$(hit $BASE)" "the good upgrade kept the state"
finish
