#!/bin/sh
# A Gleam-shaped erlang-shipment (two packages, built with erlc): the start
# hook's `erl -pa erlang-shipment/*/ebin -eval 'gleamapp@@main:run(gleamapp)'
# -sname ...` (the cookie in HOME/.erlang.cookie) runs it; it answers on its port and joins
# distribution as gleamapp-N@host; "eval" pre-commands run in a fresh VM.
. "$DEPLOYEX_TOP/tests/fixtures/hooks-test-lib.sh"

APP=gleamapp
hooks_config $APP gleam 47330
publish_release $APP 1.0.0 '["eval gleamapp_web:migrate()"]'
install_release gleam $APP 1.0.0 1

run 0 dx hook $APP 1 pre_commands
assert_eq "true" "$OUT" "pre_commands result"
assert_eq "migrated gleamapp 1.0.0" "$(cat "$T/mark")" "the migration ran"
run 1 dx hook $APP 1 pre_commands --pre-command 'eval gleamapp_web:no_such_function()'
assert_contains "$OUT" "exited with status 1" "a failing eval fails"
assert_contains "$OUT" "undef" "with the tail of its output"
run 1 dx hook $APP 1 pre_commands --pre-command 'migrate'
assert_contains "$OUT" "a Gleam app only runs 'eval EXPR'" "other commands are refused"

run 0 dx hook $APP 1 start
assert_eq '["erl","-pa","erlang-shipment/gleamapp/ebin","erlang-shipment/gleamapp_web/ebin","-eval","gleamapp@@main:run(gleamapp)","-noshell","-sname","gleamapp-1"]' \
        "$(jqr "$OUT" '.argv | tojson')" "start argv"
# DESIGN §5: RELEASE_NODE, RELEASE_DISTRIBUTION=sname, RELEASE_TMP for every language.
assert_eq "gleamapp-1 sname" "$(jqr "$OUT" '"\(.env.RELEASE_NODE) \(.env.RELEASE_DISTRIBUTION)"')" "start env"
assert_contains "$(jqr "$OUT" '.env.RELEASE_TMP')" "/service/$APP/1/tmp" "RELEASE_TMP"
start_instance $APP 1; pid=$LAUNCHED
body=$(http_get 47330) || fail "instance 1 does not answer on 47330: $(tail -n 20 "$T/log/$APP/$APP-1-stderr.log")"
assert_eq "gleamapp 1.0.0 gleamapp-1@$HOST" "$body" "instance 1 answers"
assert_eq "pong" "$(ping_node "gleamapp-1@$HOST" "$COOKIE")" "gleamapp-1 joins distribution"
assert_eq "pang" "$(ping_node "gleamapp-1@$HOST" wrong-cookie)" "a wrong cookie is refused"

run 0 dx hook $APP 1 upgrade_kind --version 1.0.1 --from 1.0.0
assert_eq '"full"' "$OUT" "a shipment is always deployed in full"

stop_instance "$pid"
finish
