# deployex eval on a real Erlang node and a real Elixir node (started as
# instance 1 of an erlang app and of an elixir app): values printed in each
# language's syntax, exceptions as one line, syntax errors, the timeout; and
# rpc's hint when an Elixir module is named without 'Elixir.'.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon

ERL="erl$$" EX="ex$$"
HOST=$(hostname | cut -d. -f1)
COOKIE="eval-cookie-$$"
mkdir -p "$T/var" "$T/log" "$T/overrides" "$T/bucket"
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "$COOKIE",
 "apps": [{"name": "$ERL", "language": "erlang", "user": "root", "replicas": 1, "ports": {"PORT": 47620}},
          {"name": "$EX", "language": "elixir", "user": "root", "replicas": 1, "ports": {"PORT": 47621}}]}
JSON
setsid erl -sname "$ERL-1" -setcookie "$COOKIE" -noshell >"$T/erl.log" 2>&1 &
KILL_GROUPS="$!"
setsid elixir --sname "$EX-1" --cookie "$COOKIE" --no-halt -e ':ok' >"$T/ex.log" 2>&1 &
KILL_GROUPS="$KILL_GROUPS $!"
wait_for 30 "dx rpc $ERL 1 erlang node" "the Erlang node"
wait_for 30 "dx rpc $EX 1 Elixir.System version" "the Elixir node"

# Erlang: expressions, printed as the Erlang shell prints.
run 0 dx eval "$ERL" 1 'X = 20, Y = 22, {X + Y, node(), <<"bin">>, "str", #{k => [1.5]}}'
assert_eq "{42,'$ERL-1@$HOST',<<\"bin\">>,\"str\",#{k => [1.5]}}" "$OUT" "an Erlang value"
run 0 dx eval "$ERL" 1 'lists:sum(lists:seq(1, 100)).'
assert_eq "5050" "$OUT" "a final dot is fine"
run 1 dx eval "$ERL" 1 '1 / 0'
assert_eq "" "$OUT" "nothing on stdout after an exception"
assert_eq "deployex eval: $ERL/1: {error,badarith}" "$ERR" "an Erlang exception, one line"
run 1 dx eval "$ERL" 1 'X = '
assert_contains "$ERR" "syntax error" "an Erlang syntax error"
start=$(date +%s%N)
run 1 dx eval --timeout 300 "$ERL" 1 'timer:sleep(5000)'
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 2500 ] || fail "a 300 ms timeout took $ms ms"; ok
assert_contains "$ERR" "timed out after 300 ms" "the timeout"
run 0 dx eval "$ERL" 1 '1 + 1'
assert_eq "2" "$OUT" "the node is fine after a timeout"

# Elixir: Code.eval_string, printed by inspect (no limits).
run 0 dx eval "$EX" 1 'x = 40; %{sum: x + 2, node: node(), list: Enum.to_list(1..60), s: "été"}'
assert_contains "$OUT" "sum: 42" "an Elixir map"
assert_contains "$OUT" ":\"$EX-1@$HOST\"" "an Elixir atom"
assert_contains "$OUT" "56, 57, 58, 59, 60]" "no inspect limit"
assert_contains "$OUT" 's: "été"' "UTF-8 strings"
run 0 dx eval "$EX" 1 'String.upcase("ok")'
assert_eq '"OK"' "$OUT" "an Elixir string"
run 1 dx eval "$EX" 1 'raise ArgumentError, "boom"'
assert_eq "deployex eval: $EX/1: ** (ArgumentError) boom" "$ERR" "an Elixir exception, one line"
run 1 dx eval "$EX" 1 '1 +'
assert_contains "$ERR" "** (" "an Elixir syntax error"

# Usage.
run 2 dx eval "$EX" 1
run 2 dx eval "$EX" x '1'
run 0 dx eval --help
run 1 dx eval nosuch 1 '1'

# rpc: an Elixir alias without 'Elixir.' gets a hint.
run 1 dx rpc "$EX" 1 String upcase '<<"a">>'
assert_contains "$ERR" "undef" "String is undefined in Erlang terms"
assert_contains "$ERR" "hint: in Erlang terms the Elixir module String is 'Elixir.String'" "the hint"
run 0 dx rpc "$EX" 1 Elixir.String upcase '<<"a">>'
assert_eq '<<"A">>' "$OUT" "with the prefix it works"
run 1 dx rpc "$ERL" 1 nosuchmod nofun
assert_not_contains "$ERR" "hint" "no hint for a lowercase module"
finish
