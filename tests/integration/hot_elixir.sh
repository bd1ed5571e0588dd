# A hot upgrade of an Elixir release (relup from systools:make_relup, see
# tests/fixtures/build-relup) through the real daemon: same OS process,
# GenServer state kept, new code answering; a crash restart boots the new
# version (Elixir's start script reads releases/start_erl.data).
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47830
HOST=$(hostname -s)

hot_pair elixir hotex 1.0.0 1.0.1
hot_config hotex elixir 1 $BASE
hot_publish hotex 1.0.0
start_daemon
wait_for 40 "all_running 1 1.0.0" "1.0.0 running"

for i in 1 2; do hit $BASE >/dev/null; done
assert_eq "hotex 1.0.0 hotex-1@$HOST count=3" "$(hit $BASE)" "1.0.0 counts"
pid=$(inst_field 1 pid)

hot_publish hotex 1.0.1 '["eval Hotex.Release.migrate()"]'
wait_for 40 "all_running 1 1.0.1" "1.0.1 running"
assert_eq "$pid" "$(inst_field 1 pid)" "same process"
assert_eq "hotex 1.0.1 hotex-1@$HOST count=4 upgraded_from=1.0.0" "$(hit $BASE)" "new code, old state"
assert_eq "hot ok" "$(history_of hotex '.[-1] | "\(.kind) \(.result)"')" "history: hot ok"
assert_eq "migrated hotex 1.0.1" "$(cat "$T/mark")" "the pre-command ran from the new release"
assert_contains "$(cat "$(root_of hotex 1 current)/releases/start_erl.data")" " 1.0.1" "current/ boots 1.0.1"
assert_contains "$(cat "$(root_of hotex 1 previous)/releases/start_erl.data")" " 1.0.0" "previous/ holds 1.0.0"

kill -KILL "$pid"
wait_for 30 "[ \"\$(inst_field 1 crash_restarts)\" = 1 ] && [ \"\$(inst_field 1 state)\" = running ]" \
        "the restart after kill -9"
assert_eq "hotex 1.0.1 hotex-1@$HOST count=1" "$(hit $BASE)" "the restart booted 1.0.1"
finish
