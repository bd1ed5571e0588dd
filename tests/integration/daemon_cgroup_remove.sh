# An instance removed (replicas shrink, or its app) leaves no cgroup behind: neither its
# spare (made after its last start) nor the cgroup of a crash that came just
# before the removal, whose escapee (in a session of its own, without the
# marker) is killed with it.  The daemon is stopped while instance 2 crashes
# and the configuration shrinks, so that the crash and the removal are
# planned in one pass.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
need_cgroup2
epmd -daemon
MARK=100$$ # the escapees' unique sleep time
escapee_start_hook "setsid env -i /bin/sleep $MARK"
demo_config 2 47470 ", \"hooks\": \"$T/hooks.lua\""
publish_demo 1.0.0
start_daemon
wait_for 90 "all_running 2 1.0.0" "both instances running"
escapees() { pgrep -f -- "^/bin/sleep $MARK\$" | wc -l | tr -d ' '; }
wait_for 10 "[ \"\$(escapees)\" = 2 ]" "the escapees of both instances"
pid2=$(inst_field 2 pid)
cg2="$mnt$(sed -n 's/^0:://p' "/proc/$pid2/cgroup")"
case "$cg2" in */deployex-*/demo-2|*/deployex-*/demo-2-b) ;;
*) fail "instance 2 runs in its own cgroup, not '$cg2'" ;; esac
root=$(dirname "$cg2")
wait_for 10 "[ -d '$root/demo-2' ] && [ -d '$root/demo-2-b' ]" "instance 2's cgroup and its spare"

kill -STOP "$DAEMON_PID"
demo_config 1 47470 ", \"hooks\": \"$T/hooks.lua\""
kill -KILL "$pid2"
kill -HUP "$DAEMON_PID"
kill -CONT "$DAEMON_PID"
wait_for 60 "[ \"\$(st | jq '.apps[0].instances | length')\" = 1 ]" "instance 2 removed"
wait_for 10 "[ \"\$(escapees)\" = 1 ]" "the escapee of the crashed instance 2 killed"
# Its spare goes; a cgroup whose killed processes are still exiting may stay, empty.
case "$cg2" in *-b) spare2=${cg2%-b} ;; *) spare2=$cg2-b ;; esac
[ -d "$spare2" ] && fail "the spare cgroup '$spare2' outlived instance 2"
for d in "$root/demo-2" "$root/demo-2-b"; do
        [ -d "$d" ] && [ -n "$(cat "$d/cgroup.procs")" ] && fail "the cgroup '$d' holds processes"
done
ok
assert_eq running "$(inst_field 1 state)" "instance 1 untouched"

# The app removed: its instance stops, and its spare goes with it.
pid1=$(inst_field 1 pid)
cg1="$mnt$(sed -n 's/^0:://p' "/proc/$pid1/cgroup")"
case "$cg1" in *-b) spare1=${cg1%-b} ;; *) spare1=$cg1-b ;; esac
wait_for 10 "[ -d '$spare1' ]" "instance 1's spare cgroup"
jq '.apps = []' "$T/deployex.json" >"$T/deployex.json.tmp"
mv "$T/deployex.json.tmp" "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 60 "grep -q 'app=demo forgotten' '$T/daemon.log'" "the app forgotten"
[ -d "$spare1" ] && fail "the spare cgroup '$spare1' outlived its app"
for d in "$root/demo-1" "$root/demo-1-b"; do
        [ -d "$d" ] && [ -n "$(cat "$d/cgroup.procs")" ] && fail "the cgroup '$d' holds processes"
done
ok
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
finish
