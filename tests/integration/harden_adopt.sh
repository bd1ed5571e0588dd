# Issue 10 item 7: adoption needs the record's process start time AND the
# instance's marker (DEPLOYEX_INSTANCE={var_path}/service/APP/N in /proc/PID/environ).  A record
# pointing at a live process that is not the instance -- no start time, or
# the right start time but no marker -- is neither adopted nor signalled:
# that process lives on and the daemon starts the instance afresh.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47720
demo_config 1 $BASE
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 1 1.0.0" "1.0.0 running"
pid=$(inst_field 1 pid)
assert_eq "DEPLOYEX_INSTANCE=$T/var/service/demo/1" "$(tr '\0' '\n' </proc/$pid/environ | grep '^DEPLOYEX_INSTANCE=')" \
        "the instance carries its marker"

# A real instance is still adopted (same pid, nothing counted).
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
start_daemon
wait_for 10 "grep -q 'adopted pid $pid' '$T/daemon.log'" "the instance to be adopted"
assert_eq "$pid" "$(inst_field 1 pid)" "same pid after adoption"

rec="$T/var/state/demo/instances/1.json"
# decoy_record CASE: kill the daemon and the instance, point the record at a
# process that is not the instance, start the daemon again.
decoy_record() {
        kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
        kill -KILL "-$(inst_field 1 pid)" 2>/dev/null
        setsid sleep 1000 &
        DECOY=$!
        KILL_GROUPS="$KILL_GROUPS $DECOY"
        wait_for 5 "[ -r /proc/$DECOY/stat ]" "the decoy"
        start=$(sed 's/.*) //' /proc/$DECOY/stat | cut -d' ' -f20)
        case $1 in
        no-start-time) jq --argjson p "$DECOY" '.pid = $p | del(.proc_start_time)' "$rec" >"$rec.new" ;;
        no-marker) jq --argjson p "$DECOY" --argjson s "$start" '.pid = $p | .proc_start_time = $s' "$rec" >"$rec.new" ;;
        esac
        mv "$rec.new" "$rec"
        start_daemon
        wait_for 60 "all_running 1 1.0.0 && [ \"\$(inst_field 1 pid)\" != $DECOY ]" "$1: a new instance, not the decoy"
        kill -0 "$DECOY" || fail "$1: the decoy was signalled"
        ok
        assert_eq "S" "$(sed 's/.*) //' /proc/$DECOY/stat | cut -d' ' -f1)" "$1: the decoy was not stopped"
        grep -q "pid $DECOY is not this instance" "$T/daemon.log" || fail "$1: the refusal is logged"
        ok
        wait_for 20 "answer $BASE | grep -q 'demo 1.0.0'" "$1: the app to answer"
}
decoy_record no-start-time
decoy_record no-marker
finish
