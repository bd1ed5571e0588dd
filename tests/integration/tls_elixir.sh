# Mutual-TLS distribution with a real Elixir release (`bin/app start`, the
# options reaching the VM through ERL_AFLAGS): status connected over TLS,
# rpc, a plain node refused, a hot upgrade over TLS keeping the process.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47970
HOST=$(hostname -s)

run 0 "$DEPLOYEX" tls-init "$T/tls" --host "$HOST"
hot_pair elixir tlsex 1.0.0 1.0.1 tls
hot_config tlsex elixir 1 $BASE
jq --arg d "$T/tls" '. + {tls: {cert: ($d + "/node-cert.pem"), key: ($d + "/node-key.pem"),
                                ca: ($d + "/ca-cert.pem")}}' "$T/deployex.json" >"$T/tls.json"
mv "$T/tls.json" "$T/deployex.json"
hot_publish tlsex 1.0.0
start_daemon
wait_for 40 "all_running 1 1.0.0" "1.0.0 running over TLS"
wait_for 20 "[ \"\$(inst_field 1 otp)\" = connected ]" "the probe connects over TLS"
assert_eq "true" "$(inst_field 1 tls)" "status: tls true"

run 0 dx rpc tlsex 1 init get_argument proto_dist
assert_eq '{ok,[["inet_tls"]]}' "$OUT" "the instance runs inet_tls distribution"
run 0 dx rpc tlsex 1 application which_applications
assert_contains "$OUT" "{ssl," "rpc over TLS: the release runs ssl"
run 0 dx eval tlsex 1 '{node(), :init.get_argument(:proto_dist)}'
assert_eq "{:\"tlsex-1@$HOST\", {:ok, [['inet_tls']]}}" "$OUT" "deployex eval over TLS, in Elixir syntax"
plain=$(erl -noshell -sname "probe$$" -setcookie "$HOT_COOKIE" -eval "
        io:format(\"~nping=~s~n\", [net_adm:ping('tlsex-1@$HOST')]), halt()." 2>/dev/null | sed -n 's/^ping=//p')
assert_eq "pang" "$plain" "a plain node with the right cookie is refused"

for i in 1 2; do hit $BASE >/dev/null; done
pid=$(inst_field 1 pid)
hot_publish tlsex 1.0.1 '["eval Tlsex.Release.migrate()"]'
wait_for 40 "all_running 1 1.0.1" "1.0.1 running"
assert_eq "hot ok" "$(history_of tlsex '.[-1] | "\(.kind) \(.result)"')" "history: hot ok over TLS"
assert_eq "$pid" "$(inst_field 1 pid)" "the upgrade kept the pid"
assert_eq "tlsex 1.0.1 tlsex-1@$HOST count=3 upgraded_from=1.0.0" "$(hit $BASE)" "new code, old state"
assert_eq "migrated tlsex 1.0.1" "$(cat "$T/mark")" "the pre-command (eval) ran with the TLS flags"
wait_for 20 "[ \"\$(inst_field 1 otp_release)\" = 1.0.1 ]" "the probe sees 1.0.1 over TLS"
assert_eq "true" "$(inst_field 1 tls)" "status: still tls after the upgrade"
finish
