# A daemon that died after a crash restart, before it settled the crashed
# process's cgroup (cgroup_settle: once the replacement has executed), left
# what the crash left there running.  The next daemon, adopting the
# instance, finds which of its two cgroups holds its process and empties the
# other.  Here a process moved into the other one while no daemon ran stands
# for the crash's leftovers: the adoption kills it and leaves the instance be.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
need_cgroup2
start_argv_hook "{ \"/bin/sleep\", \"2000$$\" }"
ROLLBACK_MS=600000 demo_config 1 47490 ", \"hooks\": \"$T/hooks.lua\""
publish_demo 1.0.0
start_daemon
wait_for 60 "[ \"\$(inst_field 1 pid)\" -gt 0 ]" "instance 1 started"
pid=$(inst_field 1 pid)
cur="$mnt$(sed -n 's/^0:://p' "/proc/$pid/cgroup")"
case "$cur" in */deployex-*/demo-1) other=$cur-b ;; */deployex-*/demo-1-b) other=${cur%-b} ;;
*) fail "instance 1 runs in its own cgroup, not '$cur'" ;; esac
wait_for 10 "[ -d '$other' ]" "the spare cgroup"
kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID"
setsid /bin/sleep 3000$$ </dev/null >/dev/null 2>&1 &
left=$!
KILL_GROUPS="${KILL_GROUPS:-} $left"
echo "$left" >"$other/cgroup.procs"
start_daemon
wait_for 30 "grep -q 'adopted pid $pid' '$T/daemon.log'" "instance 1 adopted"
wait_for 10 "! kill -0 $left 2>/dev/null || [ \"\$(ps -o stat= -p $left | cut -c1)\" = Z ]" \
        "what was left in the other cgroup killed"
assert_eq "$pid" "$(inst_field 1 pid)" "the adopted instance kept"
kill -0 "$pid" || fail "the adopted instance still runs"
ok
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
finish
