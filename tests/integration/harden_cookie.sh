# Issue 10 item 2: the cookie is never on a command line.  One app per
# language (Elixir, Erlang, Gleam) deployed by the daemon: while they deploy
# and run, no process on the host has the cookie in /proc/PID/cmdline (not
# beam.smp, not its parents, not a job or a pre-command); the instances
# still join distribution with it (rpc works, a wrong cookie is refused);
# `deployex remote --dry-run` puts no cookie in argv for any language.
. "$DEPLOYEX_TOP/tests/fixtures/hooks-test-lib.sh"
COOKIE="argv-secret-$$-$(date +%N)"
mkdir -p "$T/bucket" "$T/var" "$T/log" "$T/overrides"
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "$COOKIE",
 "apps": [
  {"name": "exapp", "language": "elixir", "user": "root", "replicas": 1, "ports": {"PORT": 47710},
   "env": {"MIGRATION_MARK": "$T/mark-ex"}, "healthy_after_ms": 500},
  {"name": "erlapp", "language": "erlang", "user": "root", "replicas": 1, "ports": {"PORT": 47711},
   "env": {"MIGRATION_MARK": "$T/mark-erl"}, "healthy_after_ms": 500},
  {"name": "gleamapp", "language": "gleam", "user": "root", "replicas": 1, "ports": {"PORT": 47712},
   "env": {"MIGRATION_MARK": "$T/mark-gl"}, "healthy_after_ms": 500}]}
JSON
# publish_lang LANG APP PRE_COMMAND: the release in the bucket, then its current.json.
publish_lang() {
        mkdir -p "$T/bucket/dist/$2" "$T/bucket/versions/$2/prod"
        tarball=$("$FIXTURES/build-release" "$1" "$2" 1.0.0 "$T/bucket/dist/$2") ||
                fail "cannot build the $1 release"
        printf '{"version": "1.0.0", "pre_commands": ["%s"]}\n' "$3" \
                >"$T/bucket/versions/$2/prod/current.json"
}
publish_lang elixir exapp "eval Exapp.Release.migrate()"
publish_lang erlang erlapp "eval erlapp_release:migrate()"
publish_lang gleam gleamapp "eval gleamapp_web:migrate()"

# Watch every command line on the host from before the daemon starts until
# everything runs: starts, pre-commands, hook jobs and the VMs themselves.
(
        while [ ! -f "$T/stop-watch" ]; do
                for f in /proc/[0-9]*/cmdline; do
                        if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$COOKIE"; then
                                echo "${f%/cmdline}: $({ tr '\0' ' ' <"$f"; } 2>/dev/null)" >>"$T/leaks"
                        fi
                done
        done
) &
WATCH=$!
start_daemon
running() { [ "$(st | jq -r ".apps[] | select(.name == \"$1\") | .instances[0].state")" = running ]; }
for app in exapp erlapp gleamapp; do
        wait_for 120 "running $app" "$app running"
done
touch "$T/stop-watch"; wait "$WATCH"
[ -s "$T/leaks" ] && fail "the cookie was on a command line: $(sort -u "$T/leaks" | head -5)"
ok
assert_contains "$(cat "$T/mark-ex" "$T/mark-erl" "$T/mark-gl")" "migrated gleamapp" "the pre-commands ran"

for app in exapp erlapp gleamapp; do
        pid=$(st | jq -r ".apps[] | select(.name == \"$app\") | .instances[0].pid")
        # beam.smp and every ancestor up to init.
        assert_contains "$(cat /proc/$pid/comm)" "beam" "$app: the instance pid is the VM"
        p=$pid
        while [ "$p" -gt 1 ]; do
                assert_not_contains "$(tr '\0' ' ' </proc/$p/cmdline)" "$COOKIE" "$app: cmdline of pid $p"
                p=$(awk '/^PPid:/ {print $2}' /proc/$p/status)
        done
        # The cookie reaches the VM through its HOME: 0700 dir, 0400 file.
        home="$T/var/service/$app/1/home"
        assert_eq "700 400" "$(stat -c %a "$home") $(stat -c %a "$home/.erlang.cookie")" "$app: cookie home modes"
        assert_eq "HOME=$home" "$(tr '\0' '\n' </proc/$pid/environ | grep '^HOME=')" "$app: HOME"
        # Distribution works with the cookie and only with it.
        kill -0 "$pid" || fail "$app: the instance died: $(tail -n 20 "$T/log/$app/$app-1-stderr.log")"
        # (the daemon may call it running before the VM registers: wait for rpc)
        wait_for 60 "dx rpc $app 1 erlang node | grep -qxF \"'$app-1@$HOST'\"" "$app: rpc to answer"
        assert_eq "pong" "$(ping_node "$app-1@$HOST" "$COOKIE")" "$app: joins distribution"
        assert_eq "pang" "$(ping_node "$app-1@$HOST" wrong-cookie)" "$app: a wrong cookie is refused"
        # A remote shell gets the cookie the same way.
        run 0 dx remote "$app" 1 --dry-run
        assert_not_contains "$(jqr "$OUT" '.argv | join(" ")')" "setcookie" "$app: no -setcookie in the remote argv"
        assert_not_contains "$(jqr "$OUT" '.argv | join(" ")')" "cookie" "$app: no --cookie in the remote argv"
        assert_eq "$home" "$(jqr "$OUT" '.env.HOME')" "$app: the remote shell's HOME"
done
finish
