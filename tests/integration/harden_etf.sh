# Issue 10 item 9: a reply nested a million deep (libei decodes it
# recursively) is refused with one line, not a crash; a reply within the
# bound still prints.  rpc, eval, the probes and hook rpc share beam_rpc().
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
APP="etf$$"
mkdir -p "$T/var" "$T/log" "$T/overrides" "$T/bucket"
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "etf-cookie-$$",
 "apps": [{"name": "$APP", "language": "erlang", "user": "root", "replicas": 1, "ports": {"PORT": 47730}}]}
JSON
setsid erl -sname "$APP-1" -setcookie "etf-cookie-$$" -noshell >"$T/node.log" 2>&1 &
KILL_GROUPS="$!"
wait_for 20 "dx rpc $APP 1 erlang node" "the node to answer"

deep() { printf 'lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, %d)).' "$1"; }
run 1 dx eval "$APP" 1 "$(deep 1000000)"
assert_contains "$ERR" "nests deeper than 1000 levels" "a million-deep reply is refused"
assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "in one line"
run 1 dx rpc "$APP" 1 erlang binary_to_term "$(erl -noshell -eval 'io:format("~w", [term_to_binary(lists:foldl(fun(_, A) -> {A} end, x, lists:seq(1, 2000)))]), halt().')"
assert_contains "$ERR" "nests deeper than 1000 levels" "a 2000-deep tuple through rpc too"
run 0 dx eval "$APP" 1 "$(deep 900)"
assert_contains "$OUT" "[[[[" "a 900-deep reply prints"
run 0 dx rpc "$APP" 1 erlang node
finish
