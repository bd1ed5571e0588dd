# `deployex run` with http set: the web UI is a supervised child -- restarted
# with backoff when it dies, its death never touching an instance -- that
# serves the real instances of a real release, pushes their changes to 100
# open dashboards at once, and dies with the daemon; as the unprivileged user
# `deployex` when it exists.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47960 PORT=47970

# As root with a `deployex` user (the package's layout): the tree belongs to
# group deployex, setgid, so that the UI, run as deployex, reads the state and
# writes the overrides as an operator in that group would.
AS_DEPLOYEX=
if id deployex >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        AS_DEPLOYEX=1
        chgrp deployex "$T" && chmod 2750 "$T"
fi
demo_config 2 $BASE
add_http $PORT
# The cookie in a file only root may read, as in production: the UI's process
# list and shell can only come from the privileged helper.
printf 'web-daemon-cookie-%s' "$$" >"$T/cookie" && chmod 0400 "$T/cookie"
jq --arg f "$T/cookie" 'del(.cookie) | .cookie_file = $f' "$T/deployex.json" >"$T/c.json" &&
        mv "$T/c.json" "$T/deployex.json"
if [ -n "$AS_DEPLOYEX" ]; then
        # What the package's tmpfiles.d makes: overrides the group's to write, the audit log
        # the group's to append to.
        chmod 2770 "$T/overrides"
        mkdir -p "$T/var/state" && chmod 2750 "$T/var/state"
        install -m 0660 -g deployex /dev/null "$T/var/state/audit.jsonl"
fi
publish_demo 1.0.0
DEPLOYEX_WEB_SHELL_IDLE_S=3 start_daemon
WEB="http://127.0.0.1:$PORT"
wait_for 60 "all_running 2 1.0.0" "2 replicas running 1.0.0"
wait_for 20 "curl -sf '$WEB/health' | grep -q '\"running\":true'" "the web UI, seeing the daemon"
web_pid() { pgrep -f -- "-c $T/deployex.json web\$" | head -n 1; }
WEB1=$(web_pid)
[ -n "$WEB1" ] || fail "no 'deployex web' process"
ok
if [ -n "$AS_DEPLOYEX" ]; then
        assert_eq "$(id -u deployex)" "$(awk '/^Uid:/ {print $2}' "/proc/$WEB1/status")" "the UI runs as deployex"
        assert_contains "$(cat "$T/daemon.log")" "running 'deployex web' as deployex" "and the log says so"
else
        echo "note: no 'deployex' user or not root: the UI runs as the daemon's user"
fi
P1=$(inst_field 1 pid) P2=$(inst_field 2 pid)

# The UI dies: it is back after a backoff, the instances never noticed.
kill -KILL "$WEB1"
wait_for 20 "[ -n \"\$(web_pid)\" ] && [ \"\$(web_pid)\" != $WEB1 ] && curl -sf '$WEB/health'" "a new web UI"
assert_contains "$(cat "$T/daemon.log")" "web UI (pid $WEB1) killed by signal 9" "the supervisor saw it die"
assert_eq "$P1 $P2" "$(inst_field 1 pid) $(inst_field 2 pid)" "the instances were not touched"
kill -KILL "$(web_pid)"
wait_for 20 "curl -sf '$WEB/health'" "the web UI back again"
# With backoff: 1 s after the first death, twice that after a second one within a minute.
web_delays() { sed -n 's/.*web UI restarts in \([0-9]*\) ms.*/\1/p' "$T/daemon.log" | tr '\n' ' ' | sed 's/ $//'; }
wait_for 20 "[ \"\$(web_delays)\" = '1000 2000' ]" "the web UI to restart after 1 s, then 2 s"
wait_for 20 "curl -sf '$WEB/health'" "the web UI back after its second delay"

# The dashboard's data is the daemon's: real pids, running, ready.
web_login
run 0 curl -s -b "$T/jar" "$WEB/api/status"
assert_eq "$P1" "$(jqr "$OUT" '.apps[0].instances[0].pid')" "instance 1's pid in the API"
assert_eq "running true" "$(jqr "$OUT" '.apps[0].instances[1] | "\(.state) \(.ready)"')" "instance 2 running and ready"

# The process list and the shell, through the helper (the UI cannot read the cookie).
if [ -n "$AS_DEPLOYEX" ]; then
        assert_eq "" "$(su -s /bin/sh deployex -c "cat '$T/cookie'" 2>/dev/null)" "the cookie is not the UI's to read"
fi
run 0 curl -s -b "$T/jar" "$WEB/api/apps/demo/instances/1/processes"
assert_contains "$(jqr "$OUT" .node)" "demo-1@" "the process list of demo/1's node"
assert_eq true "$(jqr "$OUT" '.processes > 20 and (.by_memory | length) == 20')" "real processes, the top 20"
assert_eq true "$(jqr "$OUT" '[.by_memory[].name] | index("code_server") != null')" "code_server among the largest"
web_post /api/apps/demo/instances/1/shell
TICKET=$(jqr "$BODY" .ticket)
SESSION="deployex_session=$(awk '$6 == "deployex_session" {print $7}' "$T/jar")"
run 0 python3 "$DEPLOYEX_TOP/tests/integration/ws_client.py" \
        "ws://127.0.0.1:$PORT/api/apps/demo/instances/1/shell?ticket=$TICKET" --cookie "$SESSION" \
        --origin "$WEB" --expect ')1> ' --send 'node().\n' --wait 60
assert_contains "$OUT" "status 101" "the shell's WebSocket"
assert_contains "$OUT" "'demo-1@" "node(). answers demo/1's name"
assert_contains "$OUT" "close 1000 idle for too long: closed" "closed when idle (3 s here, 15 min by default)"
remsh_left() { # a remote shell whose working directory is one of this test's instances
        for p in /proc/[0-9]*; do
                case "$(readlink "$p/cwd" 2>/dev/null)" in "$T"/*) grep -qa remsh "$p/cmdline" && return 0 ;; esac
        done
        return 1
}
wait_for 10 "! remsh_left" "the shell's processes to end with its socket"
ok

# A shell in use ends with its session (logout), not only when idle.
web_post /api/apps/demo/instances/1/shell
TICKET=$(jqr "$BODY" .ticket)
python3 "$DEPLOYEX_TOP/tests/integration/ws_client.py" \
        "ws://127.0.0.1:$PORT/api/apps/demo/instances/1/shell?ticket=$TICKET" --cookie "$SESSION" \
        --origin "$WEB" --tick 0.5 --wait 60 >"$T/ws.out" 2>&1 &
WSCLIENT=$!
wait_for 30 "remsh_left" "the second shell to run"
web_post /logout
assert_eq 200 "$CODE" "logout"
wait_for 15 "! kill -0 $WSCLIENT 2>/dev/null" "the shell's socket to close"
assert_contains "$(cat "$T/ws.out")" "close 1008 the session ended" "the logout ended the shell"
wait_for 10 "! remsh_left" "and its processes"
web_login

# 100 open dashboards: each gets the snapshot at once, then every change.
mkdir -p "$T/sse"
setsid sh -c 'i=1; while [ $i -le 100 ]; do
        curl -sN -b "$1/jar" "$2/api/events" >"$1/sse/$i" 2>/dev/null &
        i=$((i + 1)); done; wait' sh "$T" "$WEB" &
KILL_GROUPS="${KILL_GROUPS:-} $!"
all_streams() { [ "$(grep -l "$1" "$T"/sse/* 2>/dev/null | wc -l)" -eq 100 ]; }
wait_for 30 "all_streams 'event: status'" "100 streams with a first snapshot"
web_post /api/apps/demo/restart '{"instance": 2}'
assert_eq 200 "$CODE" "restart demo/2 from the UI"
wait_for 60 "[ \"\$(inst_field 2 pid)\" != $P2 ] && [ \"\$(inst_field 2 state)\" = running ]" "instance 2 restarted"
NEW2=$(inst_field 2 pid)
wait_for 20 "all_streams '\"pid\":$NEW2'" "every stream to show instance 2's new pid"
assert_eq "$P1" "$(inst_field 1 pid)" "instance 1 untouched by 100 dashboards"
assert_eq "1" "$(inst_field 2 forced_restarts)" "one forced restart"
assert_eq "web" "$(dx audit --json | jq -r '[.[] | select(.action == "restart")][0].via')" "audited"

# SIGTERM: the daemon stops its instances and exits; the UI goes with it.
kill -TERM "$DAEMON_PID"
wait_for 30 "! kill -0 $DAEMON_PID" "the daemon to exit"
wait_for 10 "[ -z \"\$(web_pid)\" ]" "the web UI to go with the daemon"
assert_eq "000" "$(http_code "$WEB/health")" "nothing listens any more"

finish
