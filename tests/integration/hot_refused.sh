# Releases that cannot be hot-upgraded are deployed in full: one without a
# relup, then one built for another ERTS (faked, see tests/fixtures/build-relup:
# its metadata names ERTS 13.1.99).  A release for another ERTS cannot be
# loaded into this VM, but a new VM started from its own files runs it, so
# upgrade_kind answers "full" and says why; hot_upgrade itself, called
# anyway, refuses with stage not_installed and leaves the node alone.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47850
HOST=$(hostname -s)

hot_pair erlang hotapp 1.0.0 1.0.1 norelup
hot_pair erlang hotapp 1.0.1 1.0.2 erts
hot_pair erlang hotapp 1.0.0 1.0.1 norelup # its 1.0.1 is the one deployed
hot_config hotapp erlang 1 $BASE
hot_publish hotapp 1.0.0
start_daemon
wait_for 40 "all_running 1 1.0.0" "1.0.0 running"
pid=$(inst_field 1 pid)

# No relup: a full deployment, a new process.
hot_publish hotapp 1.0.1
wait_for 40 "all_running 1 1.0.1" "1.0.1 running"
[ "$(inst_field 1 pid)" != "$pid" ] || fail "a full deployment starts a new process"
ok
assert_eq "hotapp 1.0.1 hotapp-1@$HOST count=1" "$(hit $BASE)" "1.0.1 answers from a fresh VM"
assert_eq "full ok" "$(history_of hotapp '.[-1] | "\(.kind) \(.result)"')" "history: full"
assert_contains "$(cat "$T/daemon.log")" "full deployment of 1.0.1: the release has no releases/1.0.1/relup" \
        "the daemon says why not hot"
hit $BASE >/dev/null
pid=$(inst_field 1 pid)

# Another ERTS: the hook refuses a hot upgrade with the reason, the node untouched.
new=$(root_of hotapp 1 new)
mkdir -p "$new" && tar -xzf "$T/dist/hotapp-1.0.2.tar.gz" -C "$new"
run 1 dx hook hotapp 1 hot_upgrade --version 1.0.2 --from 1.0.1
assert_contains "$ERR" "the release needs ERTS 13.1.99 and the node runs ERTS 13.1.5" \
        "hot_upgrade refuses another ERTS"
assert_eq "not_installed" "$(jqr "$OUT" '.[2]')" "hot_upgrade's stage"
run 0 dx hook hotapp 1 upgrade_kind --version 1.0.2 --from 1.0.1
assert_eq '"full"' "$OUT" "upgrade_kind: full"
rm -rf "$new"
assert_eq "hotapp 1.0.1 hotapp-1@$HOST count=3" "$(hit $BASE)" "the node was not touched"

# Published, it is deployed in full.
hot_publish hotapp 1.0.2
wait_for 40 "all_running 1 1.0.2" "1.0.2 running"
[ "$(inst_field 1 pid)" != "$pid" ] || fail "a full deployment starts a new process"
ok
assert_eq "hotapp 1.0.2 hotapp-1@$HOST count=1" "$(hit $BASE)" "1.0.2 answers from a fresh VM"
assert_contains "$(cat "$T/daemon.log")" "full deployment of 1.0.2: the release needs ERTS 13.1.99 and the node runs ERTS 13.1.5" \
        "the daemon says why not hot"
assert_eq "0" "$(history_of hotapp '[.[] | select(.kind == "hot")] | length')" "no hot attempt recorded"
assert_eq "[]" "$(dx ghosts --json hotapp | jq -c .)" "nothing ghosted"
finish
