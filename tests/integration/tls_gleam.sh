# Mutual-TLS distribution for a Gleam erlang-shipment (plain `erl`, the
# flags through ERL_AFLAGS): the started VM runs inet_tls, deployex's C node
# reaches it over TLS, a plain node with the right cookie is refused, and a
# pre-command's eval VM starts with the same flags.
. "$DEPLOYEX_TOP/tests/fixtures/hooks-test-lib.sh"

APP=gleamapp
hooks_config $APP gleam 47980
run 0 "$DEPLOYEX" tls-init "$T/tls" --host "$HOST"
jq --arg d "$T/tls" '. + {tls: {cert: ($d + "/node-cert.pem"), key: ($d + "/node-key.pem"),
                                ca: ($d + "/ca-cert.pem")}}' "$T/deployex.json" >"$T/tls.json"
mv "$T/tls.json" "$T/deployex.json"
publish_release $APP 1.0.0 '["eval gleamapp_web:migrate(), io:format(\"~p\", [init:get_argument(proto_dist)])"]'
install_release gleam $APP 1.0.0 1

run 0 dx hook $APP 1 pre_commands
assert_eq "migrated gleamapp 1.0.0" "$(cat "$T/mark")" "the eval pre-command ran"
assert_contains "$(cat "$T/log/$APP/$APP-1-stdout.log" 2>/dev/null)" '{ok,[["inet_tls"]]}' \
        "the eval VM started with -proto_dist inet_tls"

start_instance $APP 1; pid=$LAUNCHED
assert_eq "-proto_dist inet_tls -ssl_dist_optfile $T/var/tls/$APP.ssl_dist.conf" \
        "$(jq -r '.env.ERL_AFLAGS' "$T/start-$APP-1.json")" "start: the flags through ERL_AFLAGS"
body=$(http_get 47980) || fail "instance 1 does not answer: $(tail -n 20 "$T/log/$APP/$APP-1-stderr.log")"
assert_eq "gleamapp 1.0.0 gleamapp-1@$HOST" "$body" "instance 1 answers"
i=0
until dx rpc --timeout 2000 $APP 1 erlang node >/dev/null 2>&1 || [ $i -ge 100 ]; do
        sleep 0.1; i=$((i + 1))
done
run 0 dx rpc $APP 1 init get_argument proto_dist
assert_eq '{ok,[["inet_tls"]]}' "$OUT" "rpc over TLS: the shipment runs inet_tls"
assert_eq "pang" "$(ping_node "gleamapp-1@$HOST" "$COOKIE" | sed 's/=NOTICE.*//; s/^\(p[a-z]*\).*/\1/')" \
        "a plain node with the right cookie is refused"

# A VM that hangs (SIGSTOP) costs one deadline, not a hang: the TLS callbacks wait
# on the socket themselves, with ei's timeout, in the connect and in the call.
vm=$(pgrep -s "$pid" beam.smp | head -n 1)
[ -n "$vm" ] || fail "no beam.smp in the instance's session"
kill -STOP "$vm"
start=$(date +%s%N)
run 1 dx rpc --timeout 800 $APP 1 erlang node
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -CONT "$vm"
assert_contains "$ERR" "timed out after 800 ms" "a stopped TLS node times out"
[ "$ms" -lt 5000 ] || fail "rpc to a stopped TLS node took $ms ms"
ok
stop_instance "$pid"
finish
