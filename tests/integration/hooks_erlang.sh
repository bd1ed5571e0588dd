#!/bin/sh
# A real Erlang release (rebar3 as prod tar): its start hook's argv/env start
# it (bin/erlapp-VSN foreground, named by releases/start_erl.data), it
# answers on its port and joins distribution as erlapp-N@host with the
# configured cookie; "eval" pre-commands boot a fresh VM of the release.
. "$DEPLOYEX_TOP/tests/fixtures/hooks-test-lib.sh"

APP=erlapp
hooks_config $APP erlang 47320
publish_release $APP 1.0.0 '["eval erlapp_release:migrate()"]'
install_release erlang $APP 1.0.0 1

run 0 dx hook $APP 1 pre_commands
assert_eq "true" "$OUT" "pre_commands result"
assert_eq "migrated erlapp 1.0.0 as erlapp-1@$HOST" "$(cat "$T/mark")" "the migration ran with the instance's env"
assert_contains "$(cat "$T/log/$APP/$APP-1-stdout.log")" "migrations done" "its output went to the log"

rm -f "$T/mark"
run 1 dx hook $APP 1 pre_commands --pre-command 'eval erlapp_release:fail()' \
        --pre-command 'eval erlapp_release:migrate()'
assert_contains "$OUT" "pre-command 1 'eval erlapp_release:fail()' exited with status 1" "failure status"
assert_contains "$OUT" "migration_failed_on_purpose" "failure output tail"
[ ! -e "$T/mark" ] || fail "the pre-command after the failing one ran"
ok
[ -z "$(find "$T/var" -name 'erl_crash.dump')" ] || fail "a failing eval left a crash dump"
ok

run 0 dx hook $APP 1 start
assert_eq '["bin/erlapp-1.0.0","foreground"]' "$(jqr "$OUT" '.argv | tojson')" "start argv"
assert_eq "true" "$(jqr "$OUT" '.env.RELX_REPLACE_OS_VARS')" "relx renders vm.args.src"
start_instance $APP 1; pid=$LAUNCHED
body=$(http_get 47320) || fail "instance 1 does not answer on 47320: $(tail -n 20 "$T/log/$APP/$APP-1-stdout.log")"
assert_eq "erlapp 1.0.0 erlapp-1@$HOST" "$body" "instance 1 answers"
assert_eq "pong" "$(ping_node "erlapp-1@$HOST" "$COOKIE")" "erlapp-1 joins distribution"
assert_eq "pang" "$(ping_node "erlapp-1@$HOST" wrong-cookie)" "a wrong cookie is refused"

stop_instance "$pid"
finish
