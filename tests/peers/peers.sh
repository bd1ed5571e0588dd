# Sourced by tests/integration/bucket_*.sh after lib.sh: starts the Node
# peers of tests/peers/peers.js, each in its own process group, waits until
# each listens, and kills them all on exit (before lib.sh's cleanup).
PEERS_DIR="$DEPLOYEX_TOP/tests/peers"
PEER_BIN_DIR="$(dirname "$DEPLOYEX")/tests"
PEER_GROUPS=""

# dash's kill takes no "--": a negative pid right after the signal.
peers_cleanup() {
        for pg in $PEER_GROUPS; do kill -KILL "-$pg" 2>/dev/null; done
}
trap 'peers_cleanup; cleanup' EXIT

"$DEPLOYEX_TOP/scripts/install-test-peers" >"$T/.npm.log" 2>&1 ||
        fail "cannot install the test peers: $(tail -5 "$T/.npm.log")"

# start_peer NAME MODE ARGS...: logs in $T/NAME.log (requests) and $T/NAME.out.
start_peer() {
        name=$1; shift
        rm -f "$T/$name.ready"
        setsid node "$PEERS_DIR/peers.js" "$@" --log "$T/$name.log" --ready "$T/$name.ready" \
                >"$T/$name.out" 2>&1 &
        eval "PEER_PID_$name=$!"
        PEER_GROUPS="$PEER_GROUPS $!"
        i=0
        while [ ! -f "$T/$name.ready" ]; do
                i=$((i + 1))
                [ $i -le 100 ] || fail "peer $name did not start: $(cat "$T/$name.out")"
                sleep 0.1
        done
}

# stop_peer NAME: kill it (an outage); start_peer again to recover.
stop_peer() {
        eval "pid=\$PEER_PID_$1"
        kill -KILL "-$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -f "$T/$1.ready"
}

# run_peer_test BINARY: a unit-test binary that talks to the peers; it must
# really run (not skip) and pass.
run_peer_test() {
        bin="$PEER_BIN_DIR/$1"
        [ -x "$bin" ] || fail "$bin is not built (make MODE=asan unit-tests)"
        "$bin" >"$T/$1.txt" 2>&1 || { cat "$T/$1.txt"; fail "$1 failed"; }
        cat "$T/$1.txt"
        grep -q "SKIPPED" "$T/$1.txt" && fail "$1 skipped tests: the peers' variables are not set"
        ok
}
