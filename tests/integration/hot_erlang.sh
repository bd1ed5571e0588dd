# A hot upgrade of an Erlang release through the real daemon: 1.0.0 -> 1.0.1
# on two replicas, each keeping its OS process and its gen_server's state
# while new code answers; the pre-commands ran from new/; previous/ can boot
# 1.0.0; then a kill -9 restarts the instance on 1.0.1.  Before the upgrade,
# plan says the deploy goes hot if the release's relup upgrades from 1.0.0.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47820

hot_pair erlang hotapp 1.0.0 1.0.1
hot_config hotapp erlang 2 $BASE
hot_publish hotapp 1.0.0
start_daemon
wait_for 40 "all_running 2 1.0.0" "2 replicas running 1.0.0"

# State the upgrade must keep: instance 1 counts 3 requests, instance 2 one.
for i in 1 2; do hit $BASE >/dev/null; done
assert_contains "$(hit $BASE)" "hotapp 1.0.0 hotapp-1@" "instance 1 answers 1.0.0"
assert_contains "$(hit $((BASE + 1)))" "count=1" "instance 2 counts"
pid1=$(inst_field 1 pid); pid2=$(inst_field 2 pid)
vm1=$(pgrep -s "$pid1" beam.smp | head -n 1)
[ -n "$vm1" ] || fail "instance 1 has a beam.smp in its session"

# Before it runs, plan names both outcomes and what decides between them (the
# upgrade_kind hook, after unpacking): plan and executor cannot disagree.
run 0 dx pause hotapp
hot_publish hotapp 1.0.1 '["eval hotapp_release:migrate()"]'
step1() { dx plan --json hotapp | jq -c '.apps[0].steps[] | select(.instance == 1)'; }
wait_for 10 "step1 | jq -e 'select(.to == \"1.0.1\")'" "the plan to see 1.0.1"
assert_eq "deploy-full 1.0.0" "$(step1 | jq -r '"\(.action) \(.from)"')" "the plan's step for instance 1"
assert_contains "$(step1 | jq -r .reason)" "hot if its relup upgrades from 1.0.0" "the plan says it may go hot"
run 0 dx resume hotapp
wait_for 40 "all_running 2 1.0.1" "both replicas on 1.0.1"

# Same processes, state kept (count 4 and 2), the new code answering, code_change ran.
assert_eq "$pid1" "$(inst_field 1 pid)" "instance 1 kept its pid"
assert_eq "$pid2" "$(inst_field 2 pid)" "instance 2 kept its pid"
assert_eq "$vm1" "$(pgrep -s "$pid1" beam.smp | head -n 1)" "instance 1 kept its VM"
assert_eq "hotapp 1.0.1 hotapp-1@$(hostname -s) count=4 upgraded_from=1.0.0" "$(hit $BASE)" \
        "instance 1: new code, old state"
assert_contains "$(hit $((BASE + 1)))" "1.0.1 hotapp-2@$(hostname -s) count=2 upgraded_from=1.0.0" \
        "instance 2: new code, old state"

s=$(st)
assert_eq "hot ok" "$(jqr "$s" '.apps[0].instances[0].last_deploy | "\(.kind) \(.result)"')" "status: last deploy hot"
assert_eq "0 0" "$(jqr "$s" '[.apps[0].instances[] | .crash_restarts] | map(tostring) | join(" ")')" "no crash counted"
assert_eq "1 2" "$(history_of hotapp '[.[] | select(.kind == "hot" and .result == "ok" and .from == "1.0.0" and .version == "1.0.1") | .instance] | map(tostring) | join(" ")')" \
        "history: one hot ok per instance, in order"
assert_eq "0" "$(history_of hotapp '[.[] | select(.version == "1.0.1" and .kind != "hot")] | length')" \
        "history: no full deploy of 1.0.1"

# The pre-command ran once for the version on this host (on instance 1), from the new
# release, before the upgrade; instance 2 skipped it.
assert_eq "1" "$(grep -c 'migrated hotapp 1.0.1' "$T/mark")" "pre-command ran once for both instances"

# Directories: new/ gone, current/ boots 1.0.1, previous/ a clean 1.0.0 to roll back to.
cur=$(root_of hotapp 1 current); prev=$(root_of hotapp 1 previous)
[ ! -e "$(root_of hotapp 1 new)" ] || fail "new/ is removed after a hot upgrade"
ok
assert_contains "$(cat "$cur/releases/start_erl.data")" " 1.0.1" "current/ boots 1.0.1"
assert_contains "$(grep '^REL_VSN=' "$cur/bin/hotapp")" '"1.0.1"' "bin/hotapp names 1.0.1"
assert_contains "$(cat "$prev/releases/start_erl.data")" " 1.0.0" "previous/ holds 1.0.0"
[ ! -d "$prev/lib/hotapp-1.0.1" ] || fail "previous/ is a clean 1.0.0"
ok
assert_eq "1.0.0" "$(jq -r .previous_version "$T/var/state/hotapp/instances/1.json")" "record: previous_version"
[ ! -f "$T/var/state/hotapp/journal.json" ] || fail "no step left in the journal"
ok
assert_contains "$(cat "$T/daemon.log")" "release_handler:install_release took" "step times logged"

# kill -9: a crash restart boots 1.0.1 (a fresh VM: the count starts again).
kill -KILL "$vm1"
wait_for 20 "[ \"\$(inst_field 1 crash_restarts)\" = 1 ] && [ \"\$(inst_field 1 state)\" = running ]" \
        "instance 1 restarted after its crash"
[ "$(inst_field 1 pid)" != "$pid1" ] || fail "instance 1 has a new pid"
ok
assert_eq "hotapp 1.0.1 hotapp-1@$(hostname -s) count=1" "$(hit $BASE)" "the restart booted 1.0.1"
assert_eq "1.0.1" "$(inst_field 1 version)" "status: 1.0.1 after the restart"
finish
