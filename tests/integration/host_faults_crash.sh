# A crash while var_path is full (a small tmpfs in a private mount namespace):
# the instance restarts all the same.  A crash restart starts its replacement
# first and records it after; the record that cannot be written is a host
# fault (logged, in status), never a reason to leave a crashed release down.
. "$DEPLOYEX_TOP/tests/integration/lib_mntns.sh"
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47580
HEALTHY_MS=500
demo_config 1 $BASE
mount_tmpfs_var
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 1 1.0.0" "instance 1 running 1.0.0"
pid1=$(inst_field 1 pid)
assert_eq 1 "$(vm_count demo 1)" "one VM"

# var_path full, then the VM crashes.
cat /dev/zero >"$T/var/filler" 2>/dev/null
assert_eq 0 "$(df --output=avail "$T/var" | tail -n 1 | tr -d ' ')" "var_path is full"
mark=$(wc -l <"$T/daemon.log")
kill -KILL "$pid1"
vm() { vm_pids -f -- "$T/var/service/demo/1/.*-sname demo-1" | tr '\n' ' ' | sed 's/ $//'; }
wait_for 60 "[ -n \"\$(vm)\" ] && [ \"\$(vm)\" != $pid1 ]" "the crashed instance to restart on a full var_path"
pid2=$(vm)
assert_eq 1 "$(vm_count demo 1)" "one VM"
wait_for 20 "tail -n +$mark '$T/daemon.log' | grep -q 'host fault: cannot save an instance record'" \
        "the record that could not be written said as a host fault"
[ "$(cat "/proc/$pid2/stat" 2>/dev/null | cut -d' ' -f3)" != Z ] || fail "the restarted VM died"
ok

# Room again: the record catches up with the process that runs.
rm "$T/var/filler" || fail "cannot give var_path room again"
ok
wait_for 60 "[ \"\$(inst_field 1 pid)\" = $pid2 ] && all_running 1 1.0.0" "the record to name the new VM"
assert_eq 1 "$(vm_count demo 1)" "still one VM"
finish
