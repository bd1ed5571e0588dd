# DeployEx compatibility (issue 13 item 5, DESIGN §4.1): with no configuration
# file, DEPLOYEX_PHX_PORT and DEPLOYEX_ADMIN_HASHED_PASSWORD turn the web UI
# on in environment mode, on loopback, with that password; without
# DEPLOYEX_PHX_PORT there is nothing to serve.  Environment mode's var_path is
# fixed (/var/lib/deployex, where the UI appends its audit log): the test runs
# in a private mount namespace with a tmpfs over /var/lib, so the host's is
# never touched.
. "$DEPLOYEX_TOP/tests/integration/lib_mntns.sh"
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
if [ -e /etc/deployex/deployex.json ]; then
        echo "skip: /etc/deployex/deployex.json exists: it, not the environment, configures deployex here"
        exit 77
fi
mount -t tmpfs -o size=8m,mode=0755 deployex-test-varlib /var/lib || fail "cannot mount a tmpfs on /var/lib"
ok
PORT=47936
WEB="http://127.0.0.1:$PORT"
mkdir -p "$T/bucket"
# env_deployex VAR=VALUE... CMD...: deployex in environment mode, nothing else configuring it.
env_deployex() {
        env -u DEPLOYEX_CONFIG DEPLOYEX_MONITORED_APP_NAME=demo DEPLOYEX_RELEASE_ADAPTER=local \
                DEPLOYEX_RELEASE_BUCKET="$T/bucket" DEPLOYEX_ERLANG_COOKIE=env-cookie "$@"
}

# No DEPLOYEX_PHX_PORT: no web UI.
run 1 env_deployex DEPLOYEX_ADMIN_HASHED_PASSWORD="$WEB_HASH" "$DEPLOYEX" web
assert_contains "$ERR" "DEPLOYEX_PHX_PORT" "web without a port says which variable sets it"

# Not through env_deployex: a function in the background is a subshell, and $! would be its
# pid, not the UI's (which setsid puts out of reach of the cleanup).
env -u DEPLOYEX_CONFIG DEPLOYEX_MONITORED_APP_NAME=demo DEPLOYEX_RELEASE_ADAPTER=local \
        DEPLOYEX_RELEASE_BUCKET="$T/bucket" DEPLOYEX_ERLANG_COOKIE=env-cookie \
        DEPLOYEX_PHX_PORT=$PORT DEPLOYEX_ADMIN_HASHED_PASSWORD="$WEB_HASH" \
        setsid "$DEPLOYEX" web >>"$T/web.log" 2>&1 &
WEB_PID=$!
KILL_GROUPS="$WEB_PID"
wait_for 10 "curl -sf '$WEB/health'" "the web UI on DEPLOYEX_PHX_PORT"
assert_contains "$(cat "$T/web.log")" "web UI on http://127.0.0.1:$PORT" "on loopback"
run 0 curl -si -H "Origin: $WEB" -d password=wrong "$WEB/login"
assert_contains "$OUT" "Location: /login?failed=1" "a wrong password is refused"
web_login
assert_eq 64 "${#CSRF}" "DEPLOYEX_ADMIN_HASHED_PASSWORD's password logs in"
run 0 curl -s -b "$T/jar" "$WEB/api/status"
assert_eq "demo elixir 3" "$(jqr "$OUT" '.apps[0] | "\(.name) \(.language) \(.replicas)"')" \
        "the app of the environment"
[ -s /var/lib/deployex/state/audit.jsonl ] || fail "the login is audited under environment mode's var_path"
ok
assert_contains "$(tr '\0' ' ' <"/proc/$WEB_PID/cmdline")" "$DEPLOYEX web" "\$! is the UI itself"
kill -TERM "$WEB_PID"
wait_for 10 "! kill -0 $WEB_PID" "the web UI to exit on SIGTERM"
wait_for 10 "! pgrep -f -- '^$DEPLOYEX web\$' >/dev/null" "no web process left"
finish
