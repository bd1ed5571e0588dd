# Issue 10 items 10, 11, 12: an override with a duplicate key is refused
# (check and the daemon); the inline cookie is in no state file (run/config.json
# holds no "cookie"; jobs still get it); check flags an override for an
# unknown app, restart_instances beyond replicas, a cookie_file readable by
# others, and never echoes more than 80 characters of a typed key.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47740
demo_config 2 $BASE
COOKIE=$(jq -r .cookie "$T/deployex.json")
run 0 dx check --offline

# Duplicate keys: refused, not "first wins".
printf '{"paused": true, "paused": false}\n' >"$T/overrides/demo.json"
run 1 dx check --offline
assert_contains "$ERR" "demo.json: paused: duplicate key" "check names the duplicate"
rm "$T/overrides/demo.json"

# restart_instances beyond replicas.
printf '{"restart_instances": {"3": "t1"}}\n' >"$T/overrides/demo.json"
run 1 dx check --offline
assert_contains "$ERR" "restart_instances.3: demo has 2 replicas; no such instance" "instance beyond replicas"
rm "$T/overrides/demo.json"

# An override for an app the configuration does not have.
printf '{"paused": true}\n' >"$T/overrides/dmeo.json"
run 1 dx check --offline
assert_contains "$ERR" "dmeo.json: no app 'dmeo'" "override for an unknown app"
rm "$T/overrides/dmeo.json"

# A 1 MB unknown key is not echoed whole.
python3 -c 'import json; print(json.dumps({"k" * 1000000: 1}))' >"$T/overrides/demo.json"
run 1 dx check --offline
assert_contains "$ERR" "unknown key" "the long key is reported"
[ "$(printf '%s' "$ERR" | wc -c)" -lt 600 ] || fail "the error echoes the 1 MB key: $(printf '%s' "$ERR" | wc -c) bytes"
ok
rm "$T/overrides/demo.json"

# cookie_file readable by others: a problem; 0400: fine.
printf '%s\n' "$COOKIE" >"$T/cookie"
chmod 0644 "$T/cookie"
jq --arg f "$T/cookie" 'del(.cookie) | .cookie_file = $f' "$T/deployex.json" >"$T/file.json"
run 1 "$DEPLOYEX" -c "$T/file.json" check --offline
assert_contains "$ERR" "cookie_file: '$T/cookie' is readable by every user (mode 0644)" "a 0644 cookie_file"
chmod 0640 "$T/cookie"
run 1 "$DEPLOYEX" -c "$T/file.json" check --offline
assert_contains "$ERR" "is readable by its group" "a 0640 cookie_file"
chmod 0400 "$T/cookie"
run 0 "$DEPLOYEX" -c "$T/file.json" check --offline

# The daemon with an inline cookie: deploys (its jobs get the cookie), and the
# cookie is in no file under var_path but the instance's 0400 .erlang.cookie.
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "2 replicas running"
assert_eq "null" "$(jq -r '.cookie // "null"' "$T/var/run/config.json")" "run/config.json has no cookie"
assert_eq "demo" "$(jq -r '.apps[0].name' "$T/var/run/config.json")" "run/config.json is the configuration"
found=$(grep -rlF -- "$COOKIE" "$T/var" "$T/log" | grep -v '/service/demo/[12]/home/.erlang.cookie$')
assert_eq "" "$found" "the cookie is in no state or log file"
assert_eq "400" "$(stat -c %a "$T/var/service/demo/1/home/.erlang.cookie")" "the cookie handover file is 0400"
# The daemon refuses a duplicate-key override too, and keeps the previous one.
printf '{"version": "1.0.0", "version": "9.9.9"}\n' >"$T/overrides/demo.json"
wait_for 10 "st | jq -e '.apps[0].desired.error | test(\"duplicate key\")'" "the duplicate key in status"
assert_eq "source" "$(st | jq -r .apps[0].desired.origin)" "the bad override is not applied"
finish
