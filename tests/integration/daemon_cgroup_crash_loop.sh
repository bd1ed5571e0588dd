# A crash restart leaves the crashed process's cgroup to be emptied once the
# replacement has executed (cgroup_settle).  A replacement that crashes
# before the daemon saw it execute (its exec and its exit read in the same
# wake-up) must not make the daemon forget the first crashed cgroup: what
# the first crash left in it (an escapee without the marker, in a session of
# its own) is killed too.  The second start stops the daemon as it begins,
# so that its exec and its exit are read together.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
need_cgroup2
MARK=100$$ # the escapees' unique sleep time
cat >"$T/start.sh" <<SH
n=\$(cat "$T/starts" 2>/dev/null || echo 0)
[ "\$n" = 1 ] && read d <"$T/dpid" && kill -STOP "\$d"
echo \$((n + 1)) >"$T/starts"
setsid env -i /bin/sleep $MARK </dev/null >/dev/null 2>&1 &
# Out of the process group before this one exits (the daemon kills the group).
while [ "\$(ps -o sid= -p \$! | tr -d ' ')" != "\$!" ]; do :; done
[ "\$n" -ge 2 ] && exec /bin/sleep 2000$$
touch "$T/crashed\$n"
exit 1
SH
start_argv_hook "{ \"/bin/sh\", \"$T/start.sh\" }"
BACKOFF='{"initial_ms": 0, "max_ms": 1}' ROLLBACK_MS=600000 \
        demo_config 1 47450 ", \"hooks\": \"$T/hooks.lua\", \"max_probation_crashes\": 1000"
publish_demo 1.0.0
start_daemon
echo "$DAEMON_PID" >"$T/dpid"
wait_for 60 "[ -e '$T/crashed1' ] && ! pgrep -f '^/bin/sh $T/start.sh'" "the second start to crash"
kill -CONT "$DAEMON_PID"
wait_for 60 "[ \"\$(cat '$T/starts')\" = 3 ] && [ \"\$(inst_field 1 pid)\" -gt 0 ]" \
        "the third start, the one that runs"
escapees() { pgrep -f -- "^/bin/sleep $MARK\$" | wc -l | tr -d ' '; }
# The running start's own escapee stays; the two crashed starts' are killed.
wait_for 10 "[ \"\$(escapees)\" = 1 ]" "the escapees of the two crashed starts to be killed"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
wait_for 10 "[ \"\$(escapees)\" = 0 ]" "nothing left once the daemon stopped everything"
finish
