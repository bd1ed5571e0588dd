#!/bin/sh
# A real Elixir release (mix release, tar step): its start hook's argv/env
# start it, it answers on its port and joins distribution as exapp-N@host
# with the configured cookie; a pre-command leaves its mark, a failing one
# reports its exit status and output.
. "$DEPLOYEX_TOP/tests/fixtures/hooks-test-lib.sh"

APP=exapp
hooks_config $APP elixir 47310
publish_release $APP 1.0.0 '["eval Exapp.Release.migrate()"]'
install_release elixir $APP 1.0.0 1
install_release elixir $APP 1.0.0 2

# Pre-commands from current.json: what `bin/exapp eval` runs, minus its
# --cookie (the release's elixir launcher), in current/.
run 0 dx hook $APP 1 pre_commands
assert_eq "true" "$OUT" "pre_commands result"
assert_eq "migrated exapp 1.0.0 as exapp-1" "$(cat "$T/mark")" "the migration ran with the instance's env"
assert_contains "$(cat "$T/log/$APP/$APP-1-stdout.log")" "current/releases/1.0.0/elixir --erl-config" \
        "the command is logged in the instance's stdout log"
assert_contains "$(cat "$T/log/$APP/$APP-1-stdout.log")" "--eval 'Exapp.Release.migrate()'" "with its expression"
assert_not_contains "$(cat "$T/log/$APP/$APP-1-stdout.log")" "cookie" "and no cookie on its command line"
assert_contains "$(cat "$T/log/$APP/$APP-1-stdout.log")" "migrations done" "its output went to the log"

# A failing one stops the sequence and says why.
rm -f "$T/mark"
run 1 dx hook $APP 1 pre_commands --pre-command 'eval Exapp.Release.fail()' \
        --pre-command 'eval Exapp.Release.migrate()'
assert_contains "$OUT" "pre-command 1 'eval Exapp.Release.fail()' exited with status 1" "failure status"
assert_contains "$OUT" "migration failed on purpose" "failure output tail"
assert_contains "$ERR" "pre_commands() at $DEPLOYEX_TOP/hooks/elixir.lua" "stderr names the hook"
[ ! -e "$T/mark" ] || fail "the pre-command after the failing one ran"
ok

# Start two instances from their start hook; each answers on base + n - 1.
run 0 dx hook $APP 1 start
R="$T/var/service/exapp/1/current"; V="$R/releases/1.0.0"
assert_eq "[\"$V/elixir\",\"--sname\",\"exapp-1\",\"--erl\",\"-mode embedded\",\"--erl-config\",\"$V/sys\",\"--boot\",\"$V/start\",\"--boot-var\",\"RELEASE_LIB\",\"$R/lib\",\"--vm-args\",\"$V/vm.args\",\"--no-halt\"]" \
        "$(jqr "$OUT" '.argv | tojson')" "start argv: what bin/exapp start runs, without --cookie"
assert_eq "********" "$(jqr "$OUT" '.env.RELEASE_COOKIE')" "cookie masked in the JSON"
assert_eq "exapp-1" "$(jqr "$OUT" '.env.RELEASE_NODE')" "RELEASE_NODE"
RELEASE_NODE=inherited-node; export RELEASE_NODE # must not leak into the instance
start_instance $APP 1; pid1=$LAUNCHED
start_instance $APP 2; pid2=$LAUNCHED
body=$(http_get 47310) || fail "instance 1 does not answer on 47310: $(tail -n 20 "$T/log/$APP/$APP-1-stderr.log")"
assert_eq "exapp 1.0.0 exapp-1@$HOST" "$body" "instance 1 answers"
body=$(http_get 47311) || fail "instance 2 does not answer on 47311"
assert_eq "exapp 1.0.0 exapp-2@$HOST" "$body" "instance 2 answers"

# Distribution: reachable with the configured cookie only.
assert_eq "pong" "$(ping_node "exapp-1@$HOST" "$COOKIE")" "exapp-1 joins distribution"
assert_eq "pong" "$(ping_node "exapp-2@$HOST" "$COOKIE")" "exapp-2 joins distribution"
assert_eq "pang" "$(ping_node "exapp-1@$HOST" wrong-cookie)" "a wrong cookie is refused"

# The release has no relup: a full deployment.
run 0 dx hook $APP 1 upgrade_kind --version 1.0.1 --from 1.0.0
assert_eq '"full"' "$OUT" "upgrade_kind"

stop_instance "$pid1"
stop_instance "$pid2"
finish
