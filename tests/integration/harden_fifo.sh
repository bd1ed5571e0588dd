# Issue 10 item 1: a FIFO (or a device) where a regular file is expected is
# refused at once with a one-line error.  Planted as the override, as the
# bucket's current.json or given as the -c file, it must not block the
# daemon (crash restarts still happen, SIGTERM still works) nor the CLI
# (status, check and plan return promptly).
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47700
demo_config 1 $BASE
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 1 1.0.0" "1.0.0 running"

# status with a time limit: a hang fails the test instead of stalling it.
st() { timeout 10 "$DEPLOYEX" -c "$T/deployex.json" status --json; }
desired_error() { st | jq -r '.apps[0].desired.error // ""'; }

# A crash is still restarted: the daemon's loop is not stuck in an open().
crash_restarts() { # WHAT
        old=$(inst_field 1 pid)
        kill -KILL "$old"
        wait_for 30 "[ \"\$(inst_field 1 state)\" = running ] && [ \"\$(inst_field 1 pid)\" != $old ]" \
                "$1: the crashed instance to be restarted"
}
# prompt EXPECTED_STATUS cmd...: like run, but a hang of 10 s is a failure.
prompt() {
        want=$1; shift
        timeout 10 "$@" >"$T/.out" 2>"$T/.err"; got=$?
        OUT=$(cat "$T/.out"); ERR=$(cat "$T/.err")
        [ "$got" = 124 ] && fail "'$*' hung (killed after 10 s)"
        [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want; stderr: $ERR; stdout: $OUT"
        ok
}

# A FIFO as the app's override.
mkfifo "$T/overrides/demo.json"
wait_for 20 "desired_error | grep -q 'demo.json.*not a regular file'" "the FIFO override reported in status"
crash_restarts "FIFO override"
prompt 0 "$DEPLOYEX" -c "$T/deployex.json" status
prompt 1 "$DEPLOYEX" -c "$T/deployex.json" check
assert_contains "$ERR$OUT" "demo.json" "check names the FIFO override"
assert_contains "$ERR$OUT" "not a regular file" "check says what is wrong"
prompt 0 "$DEPLOYEX" -c "$T/deployex.json" plan
rm "$T/overrides/demo.json"

# A FIFO as the bucket's current.json.
rm "$T/bucket/versions/demo/prod/current.json"
mkfifo "$T/bucket/versions/demo/prod/current.json"
wait_for 20 "desired_error | grep -q 'current.json: not a regular file'" "the FIFO current.json reported in status"
assert_eq "1.0.0" "$(st | jq -r .apps[0].desired.version)" "the last good desired version stays"
crash_restarts "FIFO current.json"
prompt 0 "$DEPLOYEX" -c "$T/deployex.json" status
prompt 0 "$DEPLOYEX" -c "$T/deployex.json" plan
# A symlink planted as current.json is refused too (not followed as root).
rm "$T/bucket/versions/demo/prod/current.json"
printf '{"version": "9.9.9"}\n' >"$T/elsewhere.json"
ln -s "$T/elsewhere.json" "$T/bucket/versions/demo/prod/current.json"
wait_for 20 "desired_error | grep -q 'current.json: is a symlink'" "the symlinked current.json refused"
assert_eq "1.0.0" "$(st | jq -r .apps[0].desired.version)" "the symlink's version is not taken"
rm "$T/bucket/versions/demo/prod/current.json"
publish_demo 1.0.0

# A FIFO (and a character device) as the -c file: every command fails at once.
mkfifo "$T/fifo.json"
for cfg in "$T/fifo.json" /dev/zero; do
        for cmd in status check plan; do
                prompt 1 "$DEPLOYEX" -c "$cfg" $cmd
                assert_contains "$ERR" "not a regular file" "$cmd -c $cfg: the error says why"
                assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "$cmd -c $cfg: one line"
        done
done
prompt 1 "$DEPLOYEX" -c "$T/fifo.json" run
assert_contains "$ERR" "not a regular file" "run -c FIFO refuses to start"

# A state file replaced by a FIFO: status still answers (the record is skipped).
mv "$T/var/state/demo/history.jsonl" "$T/history.keep" 2>/dev/null || true
mkfifo "$T/var/state/demo/history.jsonl"
prompt 1 "$DEPLOYEX" -c "$T/deployex.json" history demo
assert_contains "$ERR" "not a regular file" "history on a FIFO says why"
rm "$T/var/state/demo/history.jsonl"
[ -f "$T/history.keep" ] && mv "$T/history.keep" "$T/var/state/demo/history.jsonl"

# SIGTERM still stops everything and exits 0.
pid=$(inst_field 1 pid)
kill -TERM "$DAEMON_PID"
wait_for 20 "! kill -0 $DAEMON_PID" "the daemon to exit on SIGTERM"
wait "$DAEMON_PID"; rc=$?
assert_eq 0 "$rc" "SIGTERM exit status"
kill -0 "$pid" 2>/dev/null && fail "the instance survived SIGTERM"
ok
finish
