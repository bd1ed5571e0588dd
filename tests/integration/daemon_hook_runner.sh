# The lean job programs (docs/daemon.md, PROGRAMS): the daemon runs its hook calls and
# readiness jobs in deployex-hook, which maps neither libcurl nor libarchive, its unpacks in
# deployex-unpack, and a hook's
# deployex.http still reaches its peer, through `deployex __http` (lua/api_http.h).  The
# health hook here asks a local HTTP server, with a header, and says healthy only once a
# flag file exists: the readiness job is caught while it waits (no timer), and its
# program, its --cli and its maps are checked.  `deployex hook` (the CLI) sends in process.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47540 PEER=47545
BUILD=$(dirname "$DEPLOYEX")

cat >"$T/server.py" <<'PY'
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
log = sys.argv[2]
# What the sender's environment holds while it waits for this answer: an `__http`
# child runs as the hook's user, who may read its /proc/PID/environ.
def http_child_secrets():
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            argv = open('/proc/%s/cmdline' % pid, 'rb').read().split(b'\0')
            if b'__http' not in argv:
                continue
            env = open('/proc/%s/environ' % pid, 'rb').read().split(b'\0')
        except OSError:
            continue
        found += [e.split(b'=')[0].decode() for e in env if e.startswith(b'DEPLOYEX_')]
    return ','.join(sorted(set(found))) or 'none'
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0'))).decode()
        with open(log, 'a') as f:
            f.write('%s %s instance=%s body=%s env=%s\n' % (self.command, self.path, self.headers.get('X-Instance'),
                                                           body, http_child_secrets()))
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')
    def log_message(self, *a):
        pass
s = HTTPServer(('127.0.0.1', int(sys.argv[1])), H)
open(sys.argv[3], 'w').close()
s.serve_forever()
PY
setsid python3 "$T/server.py" $PEER "$T/peer.log" "$T/peer.ready" >"$T/peer.out" 2>&1 &
PEER_PID=$!
KILL_GROUPS="${KILL_GROUPS:-} $PEER_PID"
wait_for 10 "[ -e '$T/peer.ready' ]" "the HTTP peer"

cat >"$T/hooks.lua" <<'LUA'
function health(ctx)
  local status, body = deployex.http("POST", ctx.env.PROBE_URL,
                                     {headers = {["X-Instance"] = tostring(ctx.instance)}, body = "ping"})
  if status ~= 200 or body ~= "ok" then return nil, "probe: " .. tostring(status or body) end
  if not deployex.read_file(ctx.env.FLAG) then return nil, "waiting for the flag" end
  return true
end
LUA
HEALTHY_MS=300 demo_config 1 $BASE ", \"hooks\": \"$T/hooks.lua\",
        \"env\": {\"PROBE_URL\": \"http://127.0.0.1:$PEER/health\", \"FLAG\": \"$T/flag\"}"
publish_demo 1.0.0
start_daemon

# The health hook ran in the readiness job and its request arrived, header and body.
wait_for 60 "grep -q 'POST /health instance=1 body=ping' '$T/peer.log'" "the health hook's request"
# The runner's __http child inherits none of the daemon's secrets (DESIGN §8).
first=$(grep -m 1 'POST /health instance=1 body=ping' "$T/peer.log")
assert_contains "$first" " env=" "the peer looked at the sender's environment"
for v in DEPLOYEX_ERLANG_COOKIE DEPLOYEX_ADMIN_HASHED_PASSWORD DEPLOYEX_SECRET_KEY_BASE; do
        assert_not_contains "$first" "$v" "$v in the environment of the __http child"
done
ready_pid() { ps --no-headers -o pid,args --ppid "$DAEMON_PID" | awk '/ __ready demo 1 / { print $1; exit }'; }
wait_for 30 "[ -n \"\$(ready_pid)\" ]" "the readiness job"
pid=$(ready_pid)
assert_eq "$BUILD/deployex-hook" "$(readlink "/proc/$pid/exe")" "the readiness job's program"
assert_contains "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "--cli $BUILD/deployex-cli -c " "the runner knows the full program"
maps=$(cat "/proc/$pid/maps")
for lib in libcurl libarchive libmicrohttpd libinotifytools libssl libcrypto; do
        assert_not_contains "$maps" "$lib" "$lib in the hook runner's maps"
done
assert_contains "$maps" "liblua5.4" "the hook runner runs Lua"
assert_eq "false" "$(inst_field 1 ready)" "not ready before the flag"

touch "$T/flag"
wait_for 60 "[ \"\$(inst_field 1 ready)\" = true ]" "ready once the flag exists"
# The start hook and pre-flight ran in the runner too, and the deployment went through.
for job in "pre-flight demo-1.0.0 on demo/1" "hook start demo/1" "readiness demo/1"; do
        grep -q "job '$job' started, pid [0-9]* (deployex-hook)" "$T/daemon.log" ||
                fail "no job '$job' in deployex-hook in the daemon log"
        ok
done
grep -q "job 'unpack demo-1.0.0 into demo/1' started, pid [0-9]* (deployex-unpack)" "$T/daemon.log" ||
        fail "the unpack did not run in deployex-unpack"
ok
grep -q "job 'fetch demo-1.0.0' started, pid [0-9]* (deployex-cli)" "$T/daemon.log" ||
        fail "the fetch did not run in the full program"
ok
assert_contains "$(answer $BASE)" "demo 1.0.0 demo-1@" "instance 1 answers"

# on_event: the deployed event's job found none defined, so a crash starts no
# job while the hook files stay; once the app's file defines it, the next
# crash's event is a job again.
run 0 "$BUILD/deployex-hook" --cli "$BUILD/deployex-cli" -c "$T/deployex.json" __hook demo 1 on_event --event deployed
assert_contains "$OUT" '"undefined"' "the runner says the hooks define no on_event"
# Hooks that cannot be loaded here (the cookie file missing) say nothing of on_event: a local fault.
sed "s|\"cookie\": \"[^\"]*\"|\"cookie_file\": \"$T/no-cookie\"|" "$T/deployex.json" >"$T/nocookie.json"
grep -q no-cookie "$T/nocookie.json" || fail "no cookie_file in the copy of the config"
run 75 "$BUILD/deployex-hook" --cli "$BUILD/deployex-cli" -c "$T/nocookie.json" __hook demo 1 on_event --event deployed
assert_not_contains "$OUT" '"undefined"' "hooks that could not be loaded answered 'undefined'"
wait_for 30 "grep -q 'app=demo: the hooks define no on_event' '$T/daemon.log'" "the deployed event's answer"
pid=$(inst_field 1 pid)
kill -KILL "$pid"
wait_for 30 "grep -q 'on_event(crashed): the hooks define none; no job' '$T/daemon.log'" "the crash's event skipped"
grep -q "job 'hook on_event(crashed)" "$T/daemon.log" && fail "an on_event job for hooks that define none"
ok
echo 'function on_event(ctx, ev) return nil end' >>"$T/hooks.lua"
wait_for 60 "[ \"\$(inst_field 1 ready)\" = true ] && [ \"\$(inst_field 1 pid)\" != $pid ]" "the restart"
kill -KILL "$(inst_field 1 pid)"
wait_for 30 "grep -q \"job 'hook on_event(crashed) demo/1' started\" '$T/daemon.log'" "the event's job once on_event is defined"

# The CLI's own hook call sends in process (no __http child) and reaches the same peer.
: >"$T/peer.log"
run 0 dx hook demo 1 health
assert_contains "$(cat "$T/peer.log")" "POST /health instance=1 body=ping" "deployex hook's request"

# The peer gone: the health hook's error names the request, from the __http child.
kill -KILL "$PEER_PID"
wait "$PEER_PID" 2>/dev/null
run 1 "$BUILD/deployex-hook" --cli "$DEPLOYEX" -c "$T/deployex.json" __hook demo 1 health
assert_contains "$ERR" "probe: POST http://127.0.0.1:$PEER/health" "the runner's error names the request"

# Bad invocations of the runner say what to do.
run 2 "$BUILD/deployex-hook" __hook demo 1 health
assert_contains "$ERR" "--cli needs the absolute path of the deployex binary" "the runner without --cli"
run 2 "$BUILD/deployex-hook" --cli "$DEPLOYEX" __fetch demo 1.0.0
assert_contains "$ERR" "unknown command '__fetch'" "the runner runs hooks only"

# The unpacker is `deployex __unpack`: a release unpacked, a refused archive leaves nothing.
run 0 "$BUILD/deployex-unpack" -c "$T/deployex.json" __unpack "$T/var/cache/demo/demo-1.0.0.tar.gz" "$T/unpacked" 100000000
[ -x "$T/unpacked/bin/demo" ] || fail "deployex-unpack did not unpack the release"
# libarchive is linked in (the Makefile says why): nothing of its dependency tree to load.
libs=$(ldd "$BUILD/deployex-unpack")
for lib in libarchive libxml2 libicu; do
        assert_not_contains "$libs" "$lib" "$lib loaded by the unpacker"
done
ok
printf 'not a tarball' >"$T/bad.tar.gz"
run 1 "$BUILD/deployex-unpack" __unpack "$T/bad.tar.gz" "$T/unpacked-bad" 100000000
[ -e "$T/unpacked-bad" ] && [ -n "$(ls -A "$T/unpacked-bad")" ] && fail "a refused archive left files"
ok
run 2 "$BUILD/deployex-unpack" __fetch demo 1.0.0
assert_contains "$ERR" "expected '__unpack TARBALL DEST_DIR MAX_BYTES'" "the unpacker unpacks only"
finish
