# A crash restart creates the replacement in the instance's spare cgroup, made
# afresh after the last start: no rmdir and mkdir of a cgroup on the crash path
# (about 36 us of a restart; docs/daemon.md CGROUPS).  The crashed process's
# cgroup is emptied and removed once the replacement runs, and becomes the next
# spare.  The payload is one process without helpers (sleep).
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
need_cgroup2
start_argv_hook "{ \"/bin/sleep\", \"1000$$\" }"
# Never ready (not a node): a probation longer than the test, crashes never fail it.
BACKOFF='{"initial_ms": 0, "max_ms": 1}' ROLLBACK_MS=600000 \
        demo_config 1 47440 ", \"hooks\": \"$T/hooks.lua\", \"max_probation_crashes\": 1000"
publish_demo 1.0.0
start_daemon
wait_for 60 "[ \"\$(inst_field 1 state)\" = starting ] && [ \"\$(inst_field 1 pid)\" -gt 0 ]" \
        "instance 1 started"

# cgroup_of PID: its cgroup's directory.  other DIR: the instance's other cgroup.
cgroup_of() { echo "$mnt$(sed -n 's/^0:://p' "/proc/$1/cgroup")"; }
other() { case "$1" in *-b) echo "${1%-b}" ;; *) echo "$1-b" ;; esac; }
for crash in 1 2 3; do
        pid=$(inst_field 1 pid)
        cur=$(cgroup_of "$pid")
        case "$cur" in */deployex-*/demo-1|*/deployex-*/demo-1-b) ;;
        *) fail "instance 1 runs in its own cgroup, not '$cur'" ;; esac
        spare=$(other "$cur")
        wait_for 10 "[ -d '$spare' ]" "the spare cgroup '$spare' before crash $crash"
        ino=$(stat -c %i "$spare") ino_cur=$(stat -c %i "$cur")
        kill -KILL "$pid"
        wait_for 30 "[ \"\$(inst_field 1 pid)\" != $pid ] && [ \"\$(inst_field 1 pid)\" -gt 0 ]" \
                "the restart after crash $crash"
        assert_eq "$spare" "$(cgroup_of "$(inst_field 1 pid)")" "the cgroup after crash $crash"
        assert_eq "$ino" "$(stat -c %i "$spare")" "the spare made before crash $crash (its inode)"
        # The crashed process's cgroup: removed and made afresh as the next spare.
        wait_for 10 "[ -d '$cur' ] && [ \"\$(stat -c %i '$cur')\" != $ino_cur ]" \
                "the old cgroup made afresh as the spare after crash $crash"
done
grep "killed [0-9]* process" "$T/daemon.log" && fail "nothing was left to kill in the cgroup"
ok
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
# The daemon removes the empty cgroups, its spares too, when it stops.
for d in "$cur" "$spare"; do [ -d "$d" ] && fail "the cgroup '$d' outlived the daemon"; done
ok
finish
