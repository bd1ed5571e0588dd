# Pre-flight and pre-commands.
#  - A tarball without bin/demo is ghosted before anything stops: the running
#    replicas keep their pids, and the ghost, the history and last_error say
#    what is missing.
#  - Pre-commands run once per version on this host: across 3 replicas the
#    marker file gets exactly one line per version, and a crash restart adds
#    none.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47350
HEALTHY_MS=500
demo_config 3 $BASE
marker="$T/pre-commands.log"

# publish_with_pre VERSION: current.json whose pre-command appends VERSION to the marker.
publish_with_pre() {
        tarball=$(demo_release "$1")
        cp "$tarball" "$T/bucket/dist/demo/demo-$1.tar.gz"
        sum=$(sha256sum "$tarball" | cut -d' ' -f1)
        jq -n --arg v "$1" --arg s "$sum" --arg m "$marker" \
                '{version: $v, sha256: $s, pre_commands: ["eval {ok, F} = file:open(\"" + $m + "\", [append]), io:format(F, \"~s~n\", [\"" + $v + "\"]), file:close(F)."]}' \
                >"$T/bucket/versions/demo/prod/current.json.tmp"
        mv "$T/bucket/versions/demo/prod/current.json.tmp" "$T/bucket/versions/demo/prod/current.json"
}

publish_with_pre 1.0.0
start_daemon
wait_for 90 "all_running 3 1.0.0" "3 replicas running 1.0.0"
assert_eq "1.0.0" "$(cat "$marker")" "pre-commands of 1.0.0 ran once for 3 replicas"
publish_with_pre 1.0.1
wait_for 90 "all_running 3 1.0.1" "3 replicas running 1.0.1"
assert_eq "1.0.0 1.0.1" "$(tr '\n' ' ' <"$marker" | sed 's/ $//')" "pre-commands of 1.0.1 ran once"
# A crash restart runs no pre-command.
kill -KILL "$(inst_field 2 pid)"
wait_for 30 "[ \"\$(inst_field 2 crash_restarts)\" = 1 ] && [ \"\$(inst_field 2 state)\" = running ]" \
        "instance 2 restarted after its crash"
assert_eq "2" "$(wc -l <"$marker" | tr -d ' ')" "no pre-command on a crash restart"
assert_contains "$(cat "$T/var/state/demo/releases/1.0.1.json")" "pre_commands_done" \
        "the release's state file records that its pre-commands ran"

# 1.0.2 has no bin/demo: pre-flight refuses it, nothing stops.
pids=$(st | jq -r '[.apps[0].instances[].pid] | map(tostring) | join(" ")')
work="$T/nobin"
mkdir -p "$work"
tar -xzf "$(demo_release 1.0.2)" -C "$work"
rm -rf "$work/bin"
tar -czf "$T/bucket/dist/demo/demo-1.0.2.tar.gz" -C "$work" .
sum=$(sha256sum "$T/bucket/dist/demo/demo-1.0.2.tar.gz" | cut -d' ' -f1)
printf '{"version": "1.0.2", "sha256": "%s"}\n' "$sum" >"$T/bucket/versions/demo/prod/current.json.tmp"
mv "$T/bucket/versions/demo/prod/current.json.tmp" "$T/bucket/versions/demo/prod/current.json"
wait_for 60 "dx ghosts --json demo | jq -e '.[] | select(.version == \"1.0.2\")'" "1.0.2 to be ghosted"
reason=$(dx ghosts --json demo | jq -r '.[] | select(.version == "1.0.2") | .reason')
assert_contains "$reason" "pre-flight" "the ghost says pre-flight"
assert_contains "$reason" "bin/demo" "the ghost names the missing start command"
assert_eq "$pids" "$(st | jq -r '[.apps[0].instances[].pid] | map(tostring) | join(" ")')" \
        "every replica kept its pid"
assert_eq "1.0.1 1.0.1 1.0.1" "$(st | jq -r '[.apps[0].instances[].version] | join(" ")')" \
        "every replica still runs 1.0.1"
assert_contains "$(inst_field 1 last_error.text)" "pre-flight" "instance 1's last_error says why"
assert_eq "2" "$(wc -l <"$marker" | tr -d ' ')" "no pre-command for a release that failed pre-flight"
[ ! -e "$T/var/service/demo/1/new" ] || [ -z "$(ls -A "$T/var/service/demo/1/new")" ] ||
        fail "the refused release is not left in new/"
ok
finish
