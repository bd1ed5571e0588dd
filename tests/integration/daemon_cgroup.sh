# Where a cgroup v2 hierarchy can be written, each instance runs in a cgroup
# of its own: a grandchild that called setsid() AND cleared its environment
# (so the instance marker cannot find it) is still inside, and cgroup.kill
# ends it when the instance stops.  The app's limits become memory.max and
# pids.max where those controllers are enabled, and are said once not to
# apply where they are not.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
need_cgroup2
epmd -daemon
BASE=47410
HEALTHY_MS=500
MARK=100$$ # the escapee's unique sleep time
# The instance starts a grandchild in a new session with an empty environment.
escapee_start_hook "setsid env -i /bin/sleep $MARK"
demo_config 1 $BASE ", \"hooks\": \"$T/hooks.lua\", \"limits\": {\"memory_max\": \"512M\", \"tasks_max\": 300}"
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 1 1.0.0" "instance 1 running"
escapees() { pgrep -f -- "^/bin/sleep $MARK\$" | tr '\n' ' ' | sed 's/ $//'; }
wait_for 10 "[ -n \"\$(escapees)\" ]" "the escapee to run"
s1=$(escapees)
tr '\0' '\n' <"/proc/$s1/environ" | grep -q DEPLOYEX_INSTANCE && fail "the escapee kept the marker"
ok

pid=$(inst_field 1 pid)
cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
case "$cg" in */deployex-*/demo-1) ok ;; *) fail "instance 1 runs in its own cgroup, not '$cg'" ;; esac
assert_eq "$cg" "$(sed -n 's/^0:://p' "/proc/$s1/cgroup")" "the escapee is in the instance's cgroup"
dir="$mnt$cg"
if grep -qw memory "$dir/../cgroup.subtree_control" 2>/dev/null; then
        assert_eq 536870912 "$(cat "$dir/memory.max")" "memory.max from limits"
else
        grep -q "app=demo: its limits cannot apply" "$T/daemon.log" || fail "the missing controllers are said"
        ok
fi
if grep -qw pids "$dir/../cgroup.subtree_control" 2>/dev/null; then
        assert_eq 300 "$(cat "$dir/pids.max")" "pids.max from limits"
fi

# A restart: the old escapee is killed with the cgroup, the new instance has its own.
run 0 dx restart demo 1
wait_for 60 "[ \"\$(inst_field 1 pid)\" != $pid ] && [ \"\$(inst_field 1 state)\" = running ]" "the restart"
wait_for 10 "[ -n \"\$(escapees)\" ] && [ \"\$(escapees)\" != $s1 ]" "the new escapee"
assert_eq 1 "$(escapees | wc -w | tr -d ' ')" "the restart left no escapee behind"
grep -Eq "app=demo instance=1 version=[^ ]+ killed [0-9]+ process(es)? left in its cgroup" "$T/daemon.log" ||
        fail "the cgroup kill is logged"
ok
[ "$(grep -c "its limits cannot apply" "$T/daemon.log")" -le 1 ] || fail "limits not applying is said once"
ok

# Starts into cgroups that went through cgroup.kill and still hold a process (they
# cannot be removed and made afresh; Linux kills every child created inside such a
# cgroup): the instance takes its other cgroup, {app}-{n}-b, and when both are so,
# it joins the first through cgroup.procs.  Either way it lives.
holders=
# killed_and_held DIR: DIR through cgroup.kill, then a live process in it.
killed_and_held() {
        mkdir -p "$1" || fail "cannot make '$1'"
        echo 1 >"$1/cgroup.kill" || fail "cannot write cgroup.kill"
        sleep 1000 </dev/null >/dev/null 2>&1 &
        echo $! >"$1/cgroup.procs" || fail "cannot move a process into '$1'"
        holders="$holders $!"
}
# restart_in_killed WHAT EXPECTED_CGROUP DIRS...: the daemon stopped (SIGQUIT), the
# instance killed with its cgroup, DIRS killed and held, the daemon started: the
# instance runs in EXPECTED_CGROUP and was not killed as it started.
restart_in_killed() {
        what=$1 want=$2; shift 2
        kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID"
        cur="$mnt$(sed -n 's/^0:://p' "/proc/$(inst_field 1 pid)/cgroup")"
        echo 1 >"$cur/cgroup.kill" || fail "cannot write cgroup.kill"
        wait_for 10 "[ -z \"\$(cat '$cur/cgroup.procs')\" ]" "the instance and its escapee to die"
        for d in "$@"; do killed_and_held "$d"; done
        mark=$(wc -l <"$T/daemon.log")
        start_daemon
        wait_for 60 "all_running 1 1.0.0" "instance 1 running again ($what)"
        assert_eq "${want#"$mnt"}" "$(sed -n 's/^0:://p' "/proc/$(inst_field 1 pid)/cgroup")" \
                "the instance's cgroup ($what)"
        tail -n +"$mark" "$T/daemon.log" | grep "app=demo instance=1 .*killed by signal" &&
                fail "the instance was killed as it started ($what)"
        ok
}
root="$mnt$(sed -n 's/^0:://p' "/proc/$(inst_field 1 pid)/cgroup" | sed 's,/[^/]*$,,')"
restart_in_killed "demo-1 killed and busy" "$root/demo-1-b" "$root/demo-1"
restart_in_killed "both killed and busy" "$root/demo-1" "$root/demo-1-b"

kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
wait_for 10 "[ -z \"\$(escapees)\" ]" "nothing left once the daemon stopped everything"
for h in $holders; do kill -KILL "$h" 2>/dev/null; wait "$h" 2>/dev/null; done
grep -E "cgroup|limits" "$T/daemon.log" | cut -c 26-
# The empty cgroups go with the test (the daemon leaves its root for the next one).
for d in "$root/demo-1" "$root/demo-1-b"; do
        wait_for 10 "rmdir '$d' 2>/dev/null || [ ! -d '$d' ]" "the instance's cgroup to empty"
done
rmdir "$root" 2>/dev/null
finish
