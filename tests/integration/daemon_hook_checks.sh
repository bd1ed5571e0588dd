# The checks an app's hooks add to deployex's own (DESIGN §5 Ready and
# Pre-flight, docs/hooks.md), and the pre-flight check of the release's
# version directory:
#  - health(ctx) answering nil, err keeps a booted node from being ready: the
#    deployment is rolled back at its deadline, ghosted with the hook's reason;
#  - preflight(ctx) answering nil, err ghosts the version before anything
#    stops, with the hook's reason;
#  - a tarball whose releases/ lacks the version being deployed is refused by
#    pre-flight before anything stops;
#  - a start(ctx) that raises an error is a hook error, said by the ghost;
#  - a pre-command that fails fails the deployment: ghosted with its exit
#    status and the tail of its output, the instance back on what it ran.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47430
HEALTHY_MS=500
# Long enough for 1.0.0 to boot on a loaded machine; 1.0.1 waits it out once.
ROLLBACK_MS=15000
cat >"$T/hooks.lua" <<'LUA'
-- 1.0.1 never passes its health check; the hook vetoes 1.0.2 at pre-flight;
-- start() raises an error for 1.0.4.
function start(ctx)
        if ctx.version == "1.0.4" then error("start refuses " .. ctx.version) end
        return deployex.default.start(ctx)
end
function health(ctx)
        if ctx.version == "1.0.1" then return nil, "health says no to " .. ctx.version end
        return true
end
function preflight(ctx)
        if ctx.version == "1.0.2" then return nil, "the hook vetoes " .. ctx.version end
        return true
end
LUA
demo_config 1 $BASE ", \"hooks\": \"$T/hooks.lua\""
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 1 1.0.0" "1.0.0 running (its health check passes)"
pid=$(inst_field 1 pid)

# health(ctx) says no: the node boots and answers, yet is never ready.
publish_demo 1.0.1
wait_for 60 "dx ghosts --json demo | jq -e '.[] | select(.version == \"1.0.1\")'" "1.0.1 to be ghosted"
reason=$(dx ghosts --json demo | jq -r '.[] | select(.version == "1.0.1") | .reason')
assert_contains "$reason" "health says no to 1.0.1" "the ghost quotes the health hook"
wait_for 60 "all_running 1 1.0.0" "instance 1 back on 1.0.0"
assert_eq "0" "$(inst_field 1 crash_restarts)" "not a crash: the 1.0.1 node ran until the deadline"
h=$(dx history --json demo)
assert_eq "rollback" "$(jqr "$h" '[.[] | select(.kind == "rollback")][0].kind')" "a rollback event"
pid=$(inst_field 1 pid)

# preflight(ctx) says no: ghosted, nothing stopped.
publish_demo 1.0.2
wait_for 60 "dx ghosts --json demo | jq -e '.[] | select(.version == \"1.0.2\")'" "1.0.2 to be ghosted"
reason=$(dx ghosts --json demo | jq -r '.[] | select(.version == "1.0.2") | .reason')
assert_contains "$reason" "pre-flight" "the ghost says pre-flight"
assert_contains "$reason" "the hook vetoes 1.0.2" "the ghost quotes the preflight hook"
assert_eq "$pid" "$(inst_field 1 pid)" "a vetoed version stops nothing"
assert_eq "1.0.0" "$(inst_field 1 version)" "instance 1 still runs 1.0.0"

# A release without releases/1.0.3: pre-flight refuses it, nothing stops.
work="$T/noversion"
mkdir -p "$work"
tar -xzf "$(demo_release 1.0.3)" -C "$work"
[ -d "$work/releases/1.0.3" ] || fail "the demo release has no releases/1.0.3 to take away"
mv "$work/releases/1.0.3" "$work/releases/9.9.9"
tar -czf "$T/bucket/dist/demo/demo-1.0.3.tar.gz" -C "$work" .
sum=$(sha256sum "$T/bucket/dist/demo/demo-1.0.3.tar.gz" | cut -d' ' -f1)
printf '{"version": "1.0.3", "sha256": "%s"}\n' "$sum" >"$T/bucket/versions/demo/prod/current.json.tmp"
mv "$T/bucket/versions/demo/prod/current.json.tmp" "$T/bucket/versions/demo/prod/current.json"
wait_for 60 "dx ghosts --json demo | jq -e '.[] | select(.version == \"1.0.3\")'" "1.0.3 to be ghosted"
reason=$(dx ghosts --json demo | jq -r '.[] | select(.version == "1.0.3") | .reason')
assert_contains "$reason" "pre-flight" "the ghost says pre-flight"
assert_contains "$reason" "releases/1.0.3" "the ghost names the missing version directory"
assert_eq "$pid" "$(inst_field 1 pid)" "a release without its version stops nothing"
assert_contains "$(answer $BASE)" "demo 1.0.0" "instance 1 still answers with 1.0.0"

# start(ctx) raises an error: a hook error, named in the ghost's reason; nothing stops.
publish_demo 1.0.4
wait_for 60 "dx ghosts --json demo | jq -e '.[] | select(.version == \"1.0.4\")'" "1.0.4 to be ghosted"
reason=$(dx ghosts --json demo | jq -r '.[] | select(.version == "1.0.4") | .reason')
assert_contains "$reason" "start refuses 1.0.4" "the ghost quotes the hook's error"
assert_contains "$reason" "hooks.lua:" "and says where it was raised"
assert_eq "$pid" "$(inst_field 1 pid)" "a hook error stops nothing"

# A failing pre-command: the deployment fails with its exit status and output.
tarball=$(demo_release 1.0.5)
cp "$tarball" "$T/bucket/dist/demo/demo-1.0.5.tar.gz"
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
printf '{"version": "1.0.5", "sha256": "%s", "pre_commands": ["eval io:format(\\"migration broke~n\\"), halt(3)."]}\n' \
        "$sum" >"$T/bucket/versions/demo/prod/current.json.tmp"
mv "$T/bucket/versions/demo/prod/current.json.tmp" "$T/bucket/versions/demo/prod/current.json"
wait_for 60 "dx ghosts --json demo | jq -e '.[] | select(.version == \"1.0.5\")'" "1.0.5 to be ghosted"
reason=$(dx ghosts --json demo | jq -r '.[] | select(.version == "1.0.5") | .reason')
assert_contains "$reason" "pre-command" "the ghost says a pre-command failed"
assert_contains "$reason" "exited with status 3" "with its exit status"
assert_contains "$reason" "migration broke" "and the tail of its output"
assert_eq "failed" "$(dx history --json demo | jq -r '[.[] | select(.version == "1.0.5")][0].result')" \
        "the history records the failed deployment"
wait_for 60 "all_running 1 1.0.0" "instance 1 back on 1.0.0"
assert_contains "$(inst_field 1 last_error.text)" "1.0.5" "last_error names the failed version"
finish
