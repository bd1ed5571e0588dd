# deployex metrics: the exposition parsed strictly (prom_check.py, and
# promtool when installed) on a real daemon with real Erlang releases; the
# counters move after a real crash and a real deployment; the VM figures come
# from the probe; metrics_textfile is kept by the daemon, atomically.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
CHECK="python3 $DEPLOYEX_TOP/tests/integration/prom_check.py"

# The checker itself refuses what it must.
printf '# HELP a_total x\n# TYPE a_total counter\na_total 1\n# HELP a_total x\n' | $CHECK - >/dev/null &&
        fail "prom_check accepts a second HELP"; ok
printf '# HELP a x\n# TYPE a counter\na 1\n' | $CHECK - >/dev/null && fail "prom_check accepts a counter without _total"; ok
printf '# HELP a x\n# TYPE a gauge\na{x="1} 1\n' | $CHECK - >/dev/null && fail "prom_check accepts a bad label"; ok
printf '# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2\n' | $CHECK - >/dev/null &&
        fail "prom_check accepts split families"; ok

BASE=47420
demo_config 2 $BASE
# DESIGN §4.1: metrics_textfile is the textfile collector's directory; the daemon writes
# deployex.prom in it (a path ending in .prom names the file itself).
sed -i "s|\"overrides_path\"|\"metrics_textfile\": \"$T/textfile\", \"overrides_path\"|" "$T/deployex.json"
mkdir -p "$T/textfile"
printf 'x\n' >"$T/textfile.txt"
sed "s|\"$T/textfile\"|\"$T/textfile.txt\"|" "$T/deployex.json" >"$T/bad.json"
run 1 "$DEPLOYEX" -c "$T/bad.json" check
assert_contains "$ERR" "metrics_textfile: is not a directory" "check names a textfile node_exporter would skip"

# Without a daemon and without state: valid, everything down.
run 0 dx metrics
printf '%s\n' "$OUT" | $CHECK - || fail "metrics with nothing running: $OUT"; ok
assert_contains "$OUT" 'deployex_daemon_up 0' "no daemon"
assert_contains "$OUT" 'deployex_instance_up{app="demo",instance="2"} 0' "instance 2 down"
run 2 dx metrics --json
run 0 dx metrics --help

publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "2 replicas of 1.0.0"

metric() { # NAME{labels} -> value ("" when absent)
        dx metrics | awk -v k="$1" '$1 == k { print $2 }'
}
check_now() {
        dx metrics >"$T/m.txt" || fail "metrics failed"
        $CHECK "$T/m.txt" >/dev/null || { $CHECK "$T/m.txt"; cat "$T/m.txt"; fail "invalid exposition"; }
        if command -v promtool >/dev/null; then promtool check metrics <"$T/m.txt" || fail "promtool"; fi
        ok
}
check_now
assert_eq 1 "$(metric deployex_daemon_up)" "daemon up"
assert_eq "1 1" "$(metric 'deployex_instance_up{app="demo",instance="1"}') $(metric 'deployex_instance_up{app="demo",instance="2"}')" "both up"
wait_for 30 "[ \"\$(metric 'deployex_instance_ready{app=\"demo\",instance=\"2\"}')\" = 1 ]" "instance 2 ready in the metrics"
assert_eq 1 "$(metric 'deployex_instance_version_info{app="demo",instance="1",version="1.0.0"}')" "version info"
assert_eq 1 "$(metric 'deployex_desired_version_info{app="demo",version="1.0.0",origin="source"}')" "desired version"
assert_eq 2 "$(metric 'deployex_deployments_total{app="demo",kind="full",result="ok"}')" "two first deployments"
assert_eq 0 "$(metric 'deployex_instance_crash_restarts_total{app="demo",instance="1"}')" "no crash yet"
assert_eq 0 "$(metric 'deployex_ghosts{app="demo"}')" "no ghosts"
[ "$(metric deployex_host_memory_total_bytes)" -gt 0 ] || fail "host memory"; ok
assert_contains "$(cat "$T/m.txt")" 'deployex_host_load{period="1m"}' "host load"

# The probe's VM figures (otp.json, refreshed by the daemon's __otp job).
wait_for 40 "[ -n \"\$(metric 'deployex_beam_processes{app=\"demo\",instance=\"1\"}')\" ]" "the VM figures of instance 1"
wait_for 40 "[ -n \"\$(metric 'deployex_beam_atoms_limit{app=\"demo\",instance=\"2\"}')\" ]" "the VM figures of instance 2"
check_now
procs=$(metric 'deployex_beam_processes{app="demo",instance="1"}')
limit=$(metric 'deployex_beam_processes_limit{app="demo",instance="1"}')
[ "$procs" -gt 10 ] && [ "$limit" -gt "$procs" ] || fail "processes $procs, limit $limit"; ok
[ "$(metric 'deployex_beam_memory_bytes{app="demo",instance="1"}')" -gt 1000000 ] || fail "VM memory"; ok
[ "$(metric 'deployex_beam_atoms_limit{app="demo",instance="2"}')" -gt 0 ] || fail "atom limit"; ok
[ "$(metric 'deployex_beam_ports{app="demo",instance="2"}')" -gt 0 ] || fail "ports"; ok

# A real crash moves the crash counter of that instance only.
kill -KILL "$(inst_field 1 pid)"
wait_for 30 "[ \"\$(metric 'deployex_instance_crash_restarts_total{app=\"demo\",instance=\"1\"}')\" = 1 ]" "the crash counted"
assert_eq 0 "$(metric 'deployex_instance_crash_restarts_total{app="demo",instance="2"}')" "instance 2 did not crash"
check_now

# A real deployment moves the deployment counters.
publish_demo 1.0.1
wait_for 90 "all_running 2 1.0.1" "the rollout to 1.0.1"
check_now
assert_eq 4 "$(metric 'deployex_deployments_total{app="demo",kind="full",result="ok"}')" "two more deployments"
assert_eq 1 "$(metric 'deployex_instance_version_info{app="demo",instance="2",version="1.0.1"}')" "version info follows"
assert_eq "" "$(metric 'deployex_instance_version_info{app="demo",instance="2",version="1.0.0"}')" "the old version is gone"

# metrics_textfile: written by the daemon, valid, readable by node_exporter, never torn.
wait_for 30 "grep -q 'version=\"1.0.1\"' '$T/textfile/deployex.prom'" "the textfile to follow the rollout"
$CHECK "$T/textfile/deployex.prom" >/dev/null || fail "invalid textfile"; ok
assert_eq 644 "$(stat -c %a "$T/textfile/deployex.prom")" "textfile mode"
[ -z "$(find "$T/textfile" -name '*.tmp.*')" ] || fail "a temporary file was left"; ok
finish
