# deployex rpc against a real Erlang node named as instance 1 of an app:
# replies in Erlang syntax, arguments parsed as Erlang terms, and every error
# path -- badrpc, undefined function, not running, timeout, bad cookie, a
# stopped node, a bad term, usage -- with its one line and exit status.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon

APP="rpc$$"
HOST=$(hostname | cut -d. -f1)
mkdir -p "$T/var" "$T/log" "$T/overrides" "$T/bucket"
cfg() { # FILE COOKIE
        cat >"$1" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "$2",
 "apps": [{"name": "$APP", "language": "erlang", "user": "root", "replicas": 2, "ports": {"PORT": 47600}}]}
JSON
}
cfg "$T/deployex.json" "rpc-cookie-$$"
cfg "$T/wrong.json" "not-the-cookie-$$"

setsid erl -sname "$APP-1" -setcookie "rpc-cookie-$$" -noshell >"$T/node.log" 2>&1 &
NODE_PID=$!
KILL_GROUPS="$NODE_PID"
wait_for 20 "dx rpc $APP 1 erlang node" "the node to answer"

# Replies in Erlang syntax; arguments are Erlang terms.
run 0 dx rpc "$APP" 1 erlang node
assert_eq "'$APP-1@$HOST'" "$OUT" "erlang:node()"
run 0 dx rpc "$APP" 1 lists reverse '[1, "two", <<"three">>, #{k => v}, {a, b}, 2.5]'
assert_eq '[2.5,{a,b},#{k => v},<<"three">>,"two",1]' "$OUT" "lists:reverse/1 of every kind of term"
run 0 dx rpc "$APP" 1 erlang abs -5
assert_eq "5" "$OUT" "a negative number is an argument, not an option"
run 0 dx rpc "$APP" 1 erlang atom_to_binary "'Elixir.MyApp.Repo'"
assert_eq '<<"Elixir.MyApp.Repo">>' "$OUT" "quoted atoms"
run 0 dx rpc "$APP" 1 unicode characters_to_binary '"été"'
assert_eq '<<"été"/utf8>>' "$OUT" "UTF-8 text in and out"
run 0 dx rpc "$APP" 1 erlang element 2 '{a, 1180591620717411303424}'
assert_eq "1180591620717411303424" "$OUT" "bignums"
run 0 dx rpc --timeout 5000 "$APP" 1 erlang is_pid '[]'
assert_eq "false" "$OUT" "--timeout before APP"
run 0 dx rpc "$APP" 1 erlang whereis init
case "$OUT" in "<0."*">") ok ;; *) fail "a pid of the node prints as <0.N.S>: $OUT" ;; esac

# {badrpc, ...}: one line on stderr, nothing on stdout, exit 1.
run 1 dx rpc "$APP" 1 erlang error boom
assert_eq "" "$OUT" "no reply printed"
assert_contains "$ERR" "deployex: $APP/1: badrpc: {'EXIT',{boom,[{erlang,error,[boom]" "badrpc names the reason"
assert_eq "1" "$(printf '%s\n' "$ERR" | wc -l)" "one line"
run 1 dx rpc "$APP" 1 nosuchmod nofun 1
assert_contains "$ERR" "badrpc: {'EXIT',{undef,[{nosuchmod,nofun,[1]" "an undefined function"

# Unreachable, timeout, bad cookie.
run 1 dx rpc "$APP" 2 erlang node
assert_eq "deployex: $APP/2: node $APP-2@$HOST is not running (not registered with epmd)" "$ERR" "not running"
start=$(date +%s%N)
run 1 dx rpc --timeout 300 "$APP" 1 timer sleep 5000
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 2500 ] || fail "a 300 ms timeout took $ms ms"
ok
assert_eq "deployex: $APP/1: rpc $APP-1@$HOST timer:sleep/1 timed out after 300 ms" "$ERR" "timeout"
run 1 "$DEPLOYEX" -c "$T/wrong.json" rpc "$APP" 1 erlang node
assert_eq "deployex: $APP/1: node $APP-1@$HOST refused the handshake (bad cookie?)" "$ERR" "bad cookie"
assert_not_contains "$ERR" "not-the-cookie" "the cookie stays secret"

# A stopped node costs the connect timeout, then works again.
kill -STOP "$NODE_PID"
start=$(date +%s%N)
run 1 dx rpc --timeout 500 "$APP" 1 erlang node
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -CONT "$NODE_PID"
[ "$ms" -lt 3000 ] || fail "a stopped node took $ms ms"
ok
assert_contains "$ERR" "timed out after 500 ms" "a stopped node times out"
run 0 dx rpc "$APP" 1 erlang length '[x]'
assert_eq "1" "$OUT" "the node answers again after SIGCONT"

# Usage errors exit 2.
run 2 dx rpc "$APP" 1 lists reverse '[1,'
assert_contains "$ERR" "deployex rpc: argument 1: '[1,': syntax error" "a bad term"
run 2 dx rpc "$APP" 1 erlang self 'X'
assert_contains "$ERR" "argument 1" "a variable is not a term"
run 2 dx rpc "$APP" 1 erlang
assert_contains "$ERR" "expected APP N MOD FUN" "too few arguments"
run 2 dx rpc "$APP" x erlang node
assert_contains "$ERR" "N must be an instance number" "a bad N"
run 2 dx rpc --timeout 0 "$APP" 1 erlang node
assert_contains "$ERR" "--timeout" "a bad timeout"
run 2 dx rpc --bogus "$APP" 1 erlang node
assert_contains "$ERR" "unknown option '--bogus'" "an unknown option"
run 1 dx rpc nosuch 1 erlang node
assert_contains "$ERR" "unknown app 'nosuch'" "an unknown app"
run 0 dx rpc --help
assert_contains "$OUT" "usage: deployex [-c FILE] rpc [--timeout MS] APP N MOD FUN [ARG...]" "--help"
run 0 dx --help
assert_contains "$OUT" "rpc [--timeout MS] APP N MOD FUN" "listed in the usage"
assert_not_contains "$OUT" "__otp" "the job command is hidden"

finish
