# status over distribution with the real daemon and the demo release: every
# running instance shows otp "connected" and the release its node says it
# runs; the daemon's long-lived probe worker keeps one distribution connection
# per node between rounds; a SIGSTOPped instance turns "disconnected" without
# stalling status or the daemon's loop (a round costs it one timeout), and
# comes back after SIGCONT; a killed probe worker is restarted and probing
# goes on; with no daemon, "unknown".
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47560
HOST=$(hostname | cut -d. -f1)

HEALTHY_MS=500 demo_config 2 $BASE
publish_demo 1.0.0
start_daemon
wait_for 90 "all_running 2 1.0.0" "2 replicas running 1.0.0"

otp_of() { inst_field "$1" otp; }
wait_for 20 '[ "$(otp_of 1)" = connected ] && [ "$(otp_of 2)" = connected ]' "both nodes connected"
s=$(st)
assert_eq "1.0.0" "$(jqr "$s" '.apps[0].instances[0].otp_release')" "instance 1's node runs 1.0.0"
assert_eq "1.0.0" "$(jqr "$s" '.apps[0].instances[1].otp_release')" "instance 2's node runs 1.0.0"
assert_eq "demo-1@$HOST" "$(jqr "$s" '.apps[0].instances[0].node')" "node name"
f="$T/var/state/demo/otp.json"
[ -f "$f" ] || fail "the daemon writes state/demo/otp.json"
assert_eq "640" "$(stat -c %a "$f")" "otp.json is 0640 (group deployex reads state)"
assert_eq "$(inst_field 1 pid)" "$(jq -r '.instances["1"].pid' "$f")" "the probe names the pid it was made for"
run 0 dx status demo
assert_eq "1.0.0" "$(printf '%s\n' "$OUT" | awk '$1 == 1 { print $6 }')" "the text form shows the node's release (OTP column)"
# The same node answers deployex rpc: release_handler agrees.
run 0 dx rpc demo 1 release_handler which_releases
assert_contains "$OUT" '"demo","1.0.0"' "which_releases over rpc"

# One worker, one connection per node kept between rounds: the node sees the
# same hidden C node (deployex_WORKERPID_K) round after round, and rounds make
# no new connections.
prober() { ps --ppid "$DAEMON_PID" -o pid=,args= | awk '/__otp --worker/ { print $1 }'; }
probes() { grep -c "otp probe: round" "$T/daemon.log"; }
w1=$(prober)
[ -n "$w1" ] || fail "no '__otp --worker' child of the daemon: $(ps --ppid "$DAEMON_PID" -o pid=,args=)"
cnode() { # N WORKER_PID: the worker's C node name as instance N's node sees it
        "$DEPLOYEX" -c "$T/deployex.json" rpc demo "$1" erlang nodes '[hidden]' |
                grep -o "deployex_$2_[0-9]*" | sort -u
}
c1=$(cnode 1 "$w1")
[ -n "$c1" ] || fail "instance 1 sees no connection from the probe worker $w1"
n=$(probes)
wait_for 30 "[ \$(probes) -ge $((n + 2)) ]" "two more probe rounds"
assert_eq "$c1" "$(cnode 1 "$w1")" "two rounds later, the same connection"
assert_contains "$(grep 'otp probe: round' "$T/daemon.log" | tail -1)" "2 open connections, 0 new" "a round reconnects nothing"

# SIGSTOP instance 2's VM (its whole process group).
pid2=$(inst_field 2 pid)
kill -STOP "-$pid2"
at0=$(jq -r .at "$f")
n0=$(probes)
# status keeps answering at once, every time, while the node is stopped.
for i in 1 2 3 4 5 6 7 8; do
        start=$(date +%s%N)
        st >/dev/null || fail "status failed with a stopped node"
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        [ "$ms" -lt 1000 ] || fail "status took $ms ms with a stopped node"
        ok
        sleep 0.5
done
wait_for 20 '[ "$(otp_of 2)" = disconnected ]' "the stopped node to show disconnected"
assert_eq "connected" "$(otp_of 1)" "instance 1 stays connected"
assert_contains "$(jq -r '.instances["2"].error' "$f")" "timed out" "why instance 2 is disconnected"
at1=$(jq -r .at "$f")
[ "$at1" -gt "$at0" ] || fail "otp.json was rewritten when instance 2 changed"
ok
# The loop goes on: a round every 5 s while the node stays stopped, each
# costing one timeout (2 s: the kept link's rpc, then each reconnect's
# handshake), never two.
wait_for 25 "[ \$(probes) -ge $((n0 + 3)) ]" "the worker to keep probing"
slow=$(grep 'otp probe: round' "$T/daemon.log" | tail -n +$((n0 + 1)) |
        awk '{ for (i = 1; i <= NF; i++) if ($i == "round" && $(i + 1) >= 4000) print }')
assert_eq "" "$slow" "no round costs more than one timeout"
assert_eq "connected" "$(otp_of 1)" "instance 1 still connected while 2 is stopped"

kill -CONT "-$pid2"
wait_for 20 '[ "$(otp_of 2)" = connected ]' "instance 2 to reconnect after SIGCONT"
assert_eq "1.0.0" "$(inst_field 2 otp_release)" "and say what it runs"

# A killed probe worker: the reason logged, a new one started, probing goes on.
kill -KILL "$w1"
wait_for 10 "grep -q 'worker otp (pid $w1) killed by signal 9' '$T/daemon.log'" "the worker's death logged"
wait_for 10 '[ -n "$(prober)" ] && [ "$(prober)" != "$w1" ]' "a new probe worker"
w2=$(prober)
wait_for 20 '[ -n "$(cnode 1 "$w2")" ]' "the new worker to connect to instance 1"
assert_eq "connected" "$(otp_of 1)" "instance 1 connected"

# No daemon: nobody refreshes, so status says unknown.
kill -QUIT "$DAEMON_PID"
wait_for 10 "! kill -0 $DAEMON_PID" "the daemon to exit on SIGQUIT"
s=$(st)
assert_eq "false" "$(jqr "$s" .daemon.running)" "no daemon"
assert_eq "unknown" "$(jqr "$s" '.apps[0].instances[0].otp')" "otp unknown without a daemon"
assert_eq "null" "$(jqr "$s" '.apps[0].instances[0].otp_release')" "no otp_release without a daemon"
finish
