# Fleet rollouts on a file:// bucket (DESIGN §10, docs/fleet.md): three hosts,
# each a real daemon in its own network, UTS and mount namespace (own
# hostname, loopback, epmd, /etc/hosts, var_path), real Erlang releases.
#  - all started at once: exactly one winner per slot, the canary on slot 0;
#  - strict order: a host fetches the release only after the previous slot
#    wrote "ready", plus soak_ms;
#  - a daemon killed while it waits for its turn resumes the same slot, also
#    when its last heartbeat reached the bucket but not its rollout.json;
#  - a release that fails on the canary gets a verdict: the other hosts
#    ghost it and never fetch it;
#  - SIGSTOP of slot 1's daemon: slot 2 abandons it after stale_after_ms and
#    proceeds; the stopped host, continued, joins again at the end;
#  - pre-commands run once per fleet, on the canary's turn;
#  - SIGSTOP of the canary's daemon in its turn: slot 1 abandons it and fails
#    the version; nobody fetches it, the canary rolls back once continued.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
unshare --net --uts --mount true 2>/dev/null || { echo "skip: needs root for unshare --net --uts --mount"; exit 77; }
PORT=47420
SOAK=700
STALE=2000
HOSTS="h0 h1 h2"

host_config() { # HOST CANARY
        d="$T/$1"
        mkdir -p "$d/var" "$d/log" "$d/overrides"
        cat >"$d/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$d/var", "log_path": "$d/log",
 "overrides_path": "$d/overrides", "cookie": "test-cookie-$$",
 "fleet": {"host": "$1", "canary": $2, "canaries": true, "heartbeat_ms": 200,
           "stale_after_ms": $STALE, "soak_ms": $SOAK},
 "apps": [{"name": "demo", "language": "erlang", "user": "root", "replicas": 1, "ports": {"PORT": $PORT},
           "healthy_after_ms": 500, "rollback_timeout_ms": 8000, "max_probation_crashes": 2,
           "stop_timeout_ms": 5000, "restart_backoff": {"initial_ms": 200, "max_ms": 1000}}]}
JSON
        printf '127.0.0.1 %s localhost\n' "$1" >"$d/hosts"
}

# start_host HOST: the daemon in the host's namespaces, its own process group.
start_host() {
        d="$T/$1"
        setsid unshare --net --uts --mount sh -c '
                hostname "$1" && ip link set lo up && mount --bind "$2/hosts" /etc/hosts || exit 1
                epmd &
                exec "$DEPLOYEX" -c "$2/deployex.json" run --debug' sh "$1" "$d" >>"$d/daemon.log" 2>&1 &
        eval "PID_$1=$!"
        KILL_GROUPS="${KILL_GROUPS:-} $!"
}
hx() { h=$1; shift; "$DEPLOYEX" -c "$T/$h/deployex.json" "$@"; }
running_on() { # HOST VERSION
        [ "$(hx "$1" status --json | jq -r '.apps[0].instances[0] | "\(.state) \(.version) \(.ready)"')" = "running $2 true" ]
}
slot_of() { jq -r .slot "$T/$1/var/state/demo/rollout.json" 2>/dev/null; }
slot_file() { printf '%s/bucket/rollout/demo/prod/%s/slot-%03d.json' "$T" "$1" "$2"; }
fetched_at_ms() { # HOST VERSION: when the host's fetch of VERSION began (the cache file's birth)
        f="$T/$1/var/cache/demo/demo-$2.tar.gz"
        [ -f "$f" ] && stat -c '%.3Y' "$f" | tr -d . || echo none
}
fail() {
        echo "FAIL: $*" >&2
        for h in $HOSTS; do
                echo "--- $h ---" >&2
                grep -v "debug: job" "$T/$h/daemon.log" | tail -n 30 >&2
                ls "$T/bucket/rollout/demo/prod/"*/ >&2
        done
        exit 1
}
cleanup_daemon() {
        for h in $HOSTS; do
                T_SAVE=$T; T="$T_SAVE/$h"; kill_instances; T=$T_SAVE
        done
        return 0
}

for h in $HOSTS; do host_config "$h" "$([ "$h" = h0 ] && echo true || echo false)"; done
mkdir -p "$T/bucket/dist/demo" "$T/bucket/versions/demo/prod"
publish_demo 1.0.0
publish_demo 1.0.1 >/dev/null; rm -f "$T/bucket/dist/demo/demo-1.0.1.tar.gz"
demo_release 2.0.0 crash >/dev/null
publish_demo 1.0.0
# Six finished rollouts of old versions: the canary's claim keeps the five newest folders.
old_at=1700000000000
for v in 0.0.1 0.0.2 0.0.3 0.0.4 0.0.5 0.0.6; do
        old_at=$((old_at + 60000))
        mkdir -p "$T/bucket/rollout/demo/prod/$v"
        printf '{"host": "h0", "state": "ready", "ready": 1, "total": 1, "beat": 9, "at": "2023-11-14T22:13:20Z", "at_ms": %s}\n' \
                "$old_at" >"$T/bucket/rollout/demo/prod/$v/slot-000.json"
done

# --- all at once: one winner per slot, canary first, strict order ---
for h in $HOSTS; do start_host "$h"; done
wait_for 60 "[ -f '$T/h0/var/state/demo/rollout.json' ] && [ -f '$T/h1/var/state/demo/rollout.json' ] && [ -f '$T/h2/var/state/demo/rollout.json' ]" "every host to claim a slot"
assert_eq "0" "$(slot_of h0)" "the canary holds slot 0"
assert_eq "1 2" "$( (slot_of h1; slot_of h2) | sort | tr '\n' ' ' | sed 's/ $//')" "h1 and h2 won one slot each"
assert_eq "1" "$(ls "$T/bucket/rollout/demo/prod/1.0.0" | grep -c '^slot-001.json$')" "one slot-001"
# The claiming job prunes right after it saved the claim.
wait_for 10 "[ \"\$(ls '$T/bucket/rollout/demo/prod' | tr '\n' ' ')\" = '0.0.3 0.0.4 0.0.5 0.0.6 1.0.0 ' ]" \
        "the canary's claim to prune the oldest rollout folders"
second=$( [ "$(slot_of h1)" = 1 ] && echo h1 || echo h2 )
third=$( [ "$second" = h1 ] && echo h2 || echo h1 )

# The third host's daemon dies while it waits; restarted, it resumes its slot.
wait_for 30 "[ \"\$(jq -r .state '$(slot_file 1.0.0 2)')\" = waiting ]" "slot 2 waiting"
eval "pg=\$PID_$third"
kill -KILL "-$pg"
# Its lock on var_path goes with the process: a daemon started before that refuses to run
# beside it (by design), so the restart waits for the exit, as a supervisor would.
wait "$pg" 2>/dev/null
# Killed between a heartbeat's write and its save of rollout.json, it left bytes in its
# slot that it never recorded: still its own slot, not one taken from it.
jq -c '.beat += 1' "$(slot_file 1.0.0 2)" >"$T/slot.tmp" && mv "$T/slot.tmp" "$(slot_file 1.0.0 2)"
start_host "$third"

wait_for 120 "running_on h0 1.0.0 && running_on h1 1.0.0 && running_on h2 1.0.0" "all hosts on 1.0.0"
assert_eq "2" "$(slot_of "$third")" "the restarted daemon kept slot 2"
[ ! -e "$(slot_file 1.0.0 3)" ] || fail "the restarted daemon claimed a second slot"
ok
wait_for 10 "[ \"\$(jq -r .state '$(slot_file 1.0.0 2)')\" = ready ]" "slot 2 ready"
# Strict order: each host fetched only after the previous slot said ready + soak.
prev_ready=$(jq -r .at_ms "$(slot_file 1.0.0 0)")
for h in $second $third; do
        f=$(fetched_at_ms "$h" 1.0.0)
        [ "$f" != none ] && [ "$f" -ge $((prev_ready + SOAK)) ] ||
                fail "$h fetched 1.0.0 at $f, before the previous slot's ready ($prev_ready) + soak"
        ok
        prev_ready=$(jq -r .at_ms "$(slot_file 1.0.0 "$(slot_of "$h")")")
done
r=$(hx h0 rollout --json demo)
assert_eq "ready ready ready" "$(jqr "$r" '[.slots[].state] | join(" ")')" "rollout shows every slot ready"
assert_eq "h0" "$(jqr "$r" '.slots[0].host')" "rollout names the canary"
assert_eq "1/1" "$(jqr "$r" '"\(.slots[1].ready)/\(.slots[1].total)"')" "rollout shows ready/total"
assert_eq "null" "$(jqr "$r" .verdict)" "no verdict"
run 0 hx h1 rollout demo
assert_contains "$OUT" "slot 0  h0" "rollout text lists the canary"
run 0 hx "$second" status demo
assert_contains "$OUT" "fleet: host $second, slot 1 of 1.0.0: its turn" "status shows this host's slot"
assert_eq "1" "$(hx "$second" status --json | jq -r '.apps[0].fleet.slot')" "status --json shows the slot"

# --- a release that fails on the canary: a verdict, nobody else fetches it ---
cp "$(demo_release 2.0.0 crash)" "$T/bucket/dist/demo/demo-2.0.0.tar.gz"
printf '{"version": "2.0.0", "hash": "h2"}\n' >"$T/bucket/versions/demo/prod/current.json.tmp"
mv "$T/bucket/versions/demo/prod/current.json.tmp" "$T/bucket/versions/demo/prod/current.json"
# Slots are claimed again for each version: whoever holds slot 1 of 2.0.0 waits for the canary.
wait_for 30 "hx h1 plan demo | grep -q 'demo/1  wait  1.0.0 -> 2.0.0  (fleet: slot 1 waits for h0)' ||
             hx h2 plan demo | grep -q 'demo/1  wait  1.0.0 -> 2.0.0  (fleet: slot 1 waits for h0)'" "slot 1's plan to wait for the canary"
wait_for 60 "[ -f '$T/bucket/rollout/demo/prod/2.0.0/verdict.json' ]" "the canary's verdict"
assert_eq "h0" "$(jq -r .by "$T/bucket/rollout/demo/prod/2.0.0/verdict.json")" "the canary wrote the verdict"
for h in h1 h2; do
        wait_for 20 "hx $h ghosts --json demo | jq -e '.[] | select(.version == \"2.0.0\")'" "$h to ghost 2.0.0"
        [ ! -e "$T/$h/var/cache/demo/demo-2.0.0.tar.gz" ] || fail "$h fetched the failed release"
        ok
        running_on "$h" 1.0.0 || fail "$h left 1.0.0"
        ok
done
wait_for 30 "running_on h0 1.0.0" "the canary back on 1.0.0"
run 0 hx h2 rollout --json demo
assert_eq "2.0.0 failed h0" "$(jqr "$OUT" '"\(.version) \(.verdict.result) \(.verdict.by)"')" "rollout shows the verdict"
run 0 hx h2 rollout demo
assert_not_contains "$OUT" "verdict: none" "rollout text shows the verdict"

# --- SIGSTOP of slot 1's daemon: slot 2 takes over and proceeds ---
# Its pre-command appends the host (UTS name) that ran it to a marker: once per fleet, on the canary.
marker="$T/pre-commands.log"
cp "$(demo_release 1.0.1)" "$T/bucket/dist/demo/demo-1.0.1.tar.gz"
jq -n --arg m "$marker" '{version: "1.0.1", hash: "h101", pre_commands: ["eval {ok, F} = file:open(\"" + $m + "\", [append]), io:format(F, \"~s~n\", [element(2, inet:gethostname())]), file:close(F)."]}' \
        >"$T/bucket/versions/demo/prod/current.json.tmp"
mv "$T/bucket/versions/demo/prod/current.json.tmp" "$T/bucket/versions/demo/prod/current.json"
wait_for 30 "[ -f '$(slot_file 1.0.1 1)' ] && [ -f '$(slot_file 1.0.1 2)' ]" "slots 1 and 2 of 1.0.1"
holder=$(jq -r .host "$(slot_file 1.0.1 1)")
next=$(jq -r .host "$(slot_file 1.0.1 2)")
eval "pg=\$PID_$holder"
# Stop the daemon only (its VM keeps running 1.0.0, as a stuck host's would).
kill -STOP "$(cat "$T/$holder/var/run/deployex.pid")"
wait_for 60 "[ \"\$(jq -r .state '$(slot_file 1.0.1 1)')\" = abandoned ]" "slot 1 to be abandoned"
wait_for 60 "running_on $next 1.0.1" "$next (slot 2) to deploy 1.0.1 without $holder"
running_on "$holder" 1.0.0 || fail "the stopped host moved"
ok
kill -CONT "$(cat "$T/$holder/var/run/deployex.pid")"
wait_for 60 "running_on $holder 1.0.1" "$holder to join again and deploy"
# When it stopped, the canary's slot was still changing: continued, it read again before
# deciding anything, rather than take that old view for a stale canary.
grep -q "version=1.0.1 fleet: slot 1 takes over slot 0" "$T/$holder/daemon.log" &&
        fail "$holder decided to take over slot 0 on what it had read before its stop"
ok
assert_eq "$holder" "$(jq -r .host "$(slot_file 1.0.1 3)")" "the continued host joined again at slot 3"
assert_eq "h0" "$(cat "$marker")" "pre-commands ran once in the fleet, on the canary"

# --- SIGSTOP of the canary's daemon in its turn: the version fails everywhere ---
cp "$(demo_release 1.0.2)" "$T/bucket/dist/demo/demo-1.0.2.tar.gz"
printf '{"version": "1.0.2", "hash": "h102"}\n' >"$T/bucket/versions/demo/prod/current.json.tmp"
mv "$T/bucket/versions/demo/prod/current.json.tmp" "$T/bucket/versions/demo/prod/current.json"
wait_for 30 "[ -f '$(slot_file 1.0.2 0)' ]" "the canary's slot of 1.0.2"
kill -STOP "$(cat "$T/h0/var/run/deployex.pid")"
state0=$(jq -r .state "$(slot_file 1.0.2 0)")
[ "$state0" = waiting ] || [ "$state0" = deploying ] || fail "the canary was stopped in state $state0"
ok
wait_for 60 "[ -f '$T/bucket/rollout/demo/prod/1.0.2/verdict.json' ]" "a verdict on the stale canary"
assert_contains "$(jq -r .reason "$T/bucket/rollout/demo/prod/1.0.2/verdict.json")" "the canary h0 went stale" "the verdict names the stale canary"
assert_eq "abandoned" "$(jq -r .state "$(slot_file 1.0.2 0)")" "slot 0 abandoned"
for h in h1 h2; do
        wait_for 20 "hx $h ghosts --json demo | jq -e '.[] | select(.version == \"1.0.2\")'" "$h to ghost 1.0.2"
        [ ! -e "$T/$h/var/cache/demo/demo-1.0.2.tar.gz" ] || fail "$h fetched the failed release"
        ok
done
kill -CONT "$(cat "$T/h0/var/run/deployex.pid")"
wait_for 30 "hx h0 ghosts --json demo | jq -e '.[] | select(.version == \"1.0.2\")'" "the canary to ghost 1.0.2 too"
wait_for 60 "running_on h0 1.0.1" "the canary back on 1.0.1"
finish
