# A crash that leaves nothing behind restarts the instance in the cgroup it
# had, kept as it was: no rmdir and mkdir of a cgroup on the crash path (about
# 36 us of a restart; docs/daemon.md CGROUPS).  The payload is one process
# without helpers (sleep), so its cgroup is empty once it is reaped.  (An
# Erlang VM's erl_child_setup may outlive the VM by a moment: it is then killed
# with cgroup.kill and the instance takes its other cgroup, daemon_cgroup.sh.)
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
[ "$own" = / ] && own=
probe="$mnt$own/deployex-test-probe-$$"
if [ -z "$mnt" ] || ! mkdir "$probe" 2>/dev/null; then
        echo "skip: no writable cgroup v2 hierarchy here (the daemon falls back to its marker sweep)"
        exit 77
fi
rmdir "$probe"
cat >"$T/hooks.lua" <<LUA
function start(ctx)
        local cmd = deployex.default.start(ctx)
        cmd.argv = { "/bin/sleep", "1000$$" }
        return cmd
end
LUA
# Never ready (not a node): a probation longer than the test, crashes never fail it.
BACKOFF='{"initial_ms": 0, "max_ms": 1}' ROLLBACK_MS=600000 \
        demo_config 1 47440 ", \"hooks\": \"$T/hooks.lua\", \"max_probation_crashes\": 1000"
publish_demo 1.0.0
start_daemon
wait_for 60 "[ \"\$(inst_field 1 state)\" = starting ] && [ \"\$(inst_field 1 pid)\" -gt 0 ]" \
        "instance 1 started"

for crash in 1 2 3; do
        pid=$(inst_field 1 pid)
        cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
        case "$cg" in */deployex-*/demo-1*) ;; *) fail "instance 1 runs in its own cgroup, not '$cg'" ;; esac
        ino=$(stat -c %i "$mnt$cg")
        kill -KILL "$pid"
        wait_for 30 "[ \"\$(inst_field 1 pid)\" != $pid ] && [ \"\$(inst_field 1 pid)\" -gt 0 ]" \
                "the restart after crash $crash"
        new=$(inst_field 1 pid)
        assert_eq "$cg" "$(sed -n 's/^0:://p' "/proc/$new/cgroup")" "the cgroup after crash $crash"
        assert_eq "$ino" "$(stat -c %i "$mnt$cg")" "the same cgroup, kept (its inode) after crash $crash"
done
grep "killed [0-9]* process" "$T/daemon.log" && fail "nothing was left to kill in the cgroup"
ok
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
# The daemon removes the empty cgroups it kept when it stops.
[ -d "$mnt$cg" ] && fail "the kept cgroup '$cg' outlived the daemon"
ok
finish
