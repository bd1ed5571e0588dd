# Bad input is normal input: a malformed current.json or override is reported
# and changes nothing; a tarball whose sha256 does not match is not deployed;
# hostile tarballs (each escape kind) are refused, nothing is written outside,
# the running replica is untouched and the version is ghosted.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47350
demo_config 1 $BASE
# A small unpack cap for the oversize case (the demo release is well below it).
jq '.max_unpacked_bytes = 67108864' "$T/deployex.json" >"$T/c.json" && mv "$T/c.json" "$T/deployex.json"
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 1 1.0.0" "1.0.0 running"
pid=$(inst_field 1 pid)
untouched() { # what
        assert_eq "$pid" "$(inst_field 1 pid)" "$1: instance untouched"
        assert_contains "$(answer $BASE)" "demo 1.0.0" "$1: still answering"
}

# Malformed current.json: reported in status, the last good desired state stays.
printf '{"version": ' >"$T/bucket/versions/demo/prod/current.json"
wait_for 10 "st | jq -e '.apps[0].desired.error | test(\"current.json\")'" "the current.json error in status"
assert_eq "1.0.0" "$(st | jq -r .apps[0].desired.version)" "last good desired version kept"
untouched "malformed current.json"
printf '{"version": "../../etc"}' >"$T/bucket/versions/demo/prod/current.json"
wait_for 10 "st | jq -e '.apps[0].desired.error | test(\"version\")'" "the bad version in status"
untouched "bad version"
publish_demo 1.0.0

# Malformed override: reported, the previous valid one (none) stays in force.
printf '{"pasued": true, "version": 7}' >"$T/overrides/demo.json"
wait_for 10 "st | jq -e '.apps[0].desired.error | test(\"pasued\")'" "the override error in status"
assert_eq "source" "$(st | jq -r .apps[0].desired.origin)" "the bad pin is not applied"
untouched "malformed override"
assert_eq "1" "$(grep -c 'pasued' "$T/daemon.log")" "the rejected override is logged, once"
rm "$T/overrides/demo.json"

# sha256 mismatch: not deployed, not cached, not ghosted (the upload may be late).
publish_demo 1.0.1 ok 0000000000000000000000000000000000000000000000000000000000000000
wait_for 20 "grep -q 'sha256' '$T/daemon.log'" "the checksum error"
sleep 1
[ -e "$T/var/cache/demo/demo-1.0.1.tar.gz" ] && fail "a mismatched tarball is in the cache"
ok
untouched "sha256 mismatch"
assert_eq "0" "$(dx ghosts --json demo | jq length)" "a checksum mismatch does not ghost"
# The retry gate is the planner's: plan shows it, status says why.
run 0 dx plan --json demo
assert_contains "$(jqr "$OUT" '.apps[0].steps[0].reason')" "deferred: fetch failed" "plan shows the deferral"
assert_contains "$(jqr "$OUT" '.apps[0].steps[0].reason')" "retry in" "plan shows when it retries"
assert_eq "1.0.1" "$(jq -r .version "$T/var/state/demo/deferred.json")" "the deferral is persisted"
assert_contains "$(inst_field 1 last_error.text)" "sha256" "last_error names the checksum"
# A crash while the next version cannot be fetched: back on what it ran, not left down.
kill -KILL "$pid"
wait_for 30 "[ \"\$(inst_field 1 state)\" = running ] && [ \"\$(inst_field 1 pid)\" != $pid ]" \
        "instance 1 restarted while 1.0.1 cannot be fetched"
assert_eq "1.0.0" "$(inst_field 1 version)" "restarted on the release it ran"
pid=$(inst_field 1 pid)
untouched "crash during a deferred deploy"
# The real checksum arrives: the deploy goes through after the retry delay.
publish_demo 1.0.1
wait_for 30 "all_running 1 1.0.1" "1.0.1 once its checksum matches"
[ ! -e "$T/var/state/demo/deferred.json" ] || fail "the deferral is cleared once deployed"
ok
pid=$(inst_field 1 pid)
untouched() {
        assert_eq "$pid" "$(inst_field 1 pid)" "$1: instance untouched"
        assert_contains "$(answer $BASE)" "demo 1.0.1" "$1: still answering"
}

# Hostile tarballs: each refused, nothing outside, ghosted, the replica untouched.
mkdir -p "$T/outside"
v=2
for kind in absolute dotdot symlink hardlink device setuid oversize; do
        version="2.0.$v"; v=$((v + 1))
        python3 "$DEPLOYEX_TOP/tests/integration/hostile_tar.py" "$kind" \
                "$T/bucket/dist/demo/demo-$version.tar.gz" "$T/outside" || fail "cannot craft $kind"
        sum=$(sha256sum "$T/bucket/dist/demo/demo-$version.tar.gz" | cut -d' ' -f1)
        printf '{"version": "%s", "sha256": "%s"}\n' "$version" "$sum" >"$T/bucket/versions/demo/prod/current.json"
        wait_for 20 "dx ghosts --json demo | jq -e '.[] | select(.version == \"$version\")'" "$kind tarball to be refused"
        assert_eq "" "$(ls -A "$T/outside")" "$kind: nothing written outside"
        untouched "$kind tarball"
        [ -e "$T/var/service/demo/1/new" ] && fail "$kind: a refused release left new/ behind"
        ok
done
assert_contains "$(dx ghosts --json demo | jq -r '.[] | select(.version == "2.0.3") | .reason')" "pwned-dotdot" "the ghost names the member"
kill -0 "$DAEMON_PID" || fail "the daemon survived every bad input"
ok
finish
