# The web UI at the HTTP level, against the real `deployex web`: login and
# its rate limits, sessions, cookies, CSRF and Origin, the security headers,
# the API answering the same JSON as the CLI, actions written and audited like
# the CLI's, bodies capped, static names that try to escape, log streams, a
# slow client cut by the connection timeout, and the refusal of a public
# listen address without TLS.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
PORT=47950

demo_config 2 47940
add_http $PORT
mkdir -p "$T/assets"
cp "$DEPLOYEX_TOP"/web/assets/* "$T/assets/"
ln -s /etc/passwd "$T/assets/planted.js"
echo secret >"$T/.hidden"
export DEPLOYEX_WEB_PATH="$T/assets"

# A public address without TLS is refused by check and by web.
jq '.http.listen = "0.0.0.0:47951"' "$T/deployex.json" >"$T/public.json"
run 1 "$DEPLOYEX" -c "$T/public.json" check
assert_contains "$ERR" "http.listen: 0.0.0.0:47951 is not a loopback address" "check names the field"
run 1 "$DEPLOYEX" -c "$T/public.json" web
run 2 dx web --bogus

start_web $PORT

# A slow client: headers never finished.  It holds one connection thread and
# nothing else; the connection timeout (30 s) ends it.
python3 - "$PORT" >"$T/slow.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
start = time.time()
s.settimeout(60)
try:
    data = s.recv(1)
except Exception as e:
    data = b""
print("closed after %.0f s" % (time.time() - start))
PY
SLOW=$!

# /health without a login; everything else wants one.
run 0 curl -si "$WEB/health"
assert_contains "$OUT" '{"status":"ok","daemon":{"running":false}}' "/health"
assert_contains "$OUT" "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" "CSP"
assert_contains "$OUT" "X-Content-Type-Options: nosniff" "nosniff"
assert_contains "$OUT" "Referrer-Policy: no-referrer" "no referrer"
assert_contains "$OUT" "Cache-Control: no-store" "no-store"
assert_not_contains "$OUT" "Strict-Transport-Security" "no HSTS over plain HTTP"
assert_eq 401 "$(http_code "$WEB/api/status")" "/api/status without a session"
run 0 curl -s "$WEB/api/status"
assert_eq "log in first (POST /login)" "$(jqr "$OUT" .error)" "401 explains"
run 0 curl -si "$WEB/"
assert_contains "$OUT" "HTTP/1.1 303" "the dashboard sends to the login page"
assert_contains "$OUT" "Location: /login" "to /login"
assert_eq 200 "$(http_code "$WEB/login")" "the login page is public"
assert_eq 401 "$(http_code -X POST -H "Origin: $WEB" -d '{}' "$WEB/api/apps/demo/pause")" "POST without a session"

# Login: another origin refused, wrong password, right password and its cookie.
# A client that is no browser (no Origin, no Sec-Fetch-Site: curl) may log in.
run 0 curl -si --data-urlencode "password=$WEB_PASSWORD" "$WEB/login"
assert_contains "$OUT" "Location: /" "curl (no Origin, no Sec-Fetch-Site) logs in"
assert_contains "$OUT" "deployex_session=" "and gets a session"
assert_eq 403 "$(http_code -H 'Origin: http://evil.example' --data-urlencode "password=$WEB_PASSWORD" "$WEB/login")" "login from another origin"
run 0 curl -si -H "Origin: $WEB" -d password=wrong "$WEB/login"
assert_contains "$OUT" "Location: /login?failed=1" "a wrong password goes back to the form"
assert_not_contains "$OUT" "Set-Cookie" "no cookie for a wrong password"
run 0 curl -si -c "$T/jar" -H "Origin: $WEB" --data-urlencode "password=$WEB_PASSWORD" "$WEB/login"
assert_contains "$OUT" "Location: /" "a right password goes to the dashboard"
cookie=$(printf '%s' "$OUT" | grep -i '^Set-Cookie:' | tr -d '\r')
assert_contains "$cookie" "deployex_session=" "the session cookie"
assert_contains "$cookie" "HttpOnly" "HttpOnly"
assert_contains "$cookie" "SameSite=Strict" "SameSite=Strict"
assert_contains "$cookie" "Path=/" "Path=/"
assert_not_contains "$cookie" "Secure" "no Secure flag over plain HTTP"
CSRF=$(curl -s -b "$T/jar" "$WEB/api/session" | jq -r .csrf)
assert_eq 64 "${#CSRF}" "a CSRF token"
token=$(grep deployex_session "$T/jar" | awk '{print $7}')
# A login always opens a new session, whatever cookie it presents (no session fixation);
# both sessions live until each ends on its own.  (The session table keeps only the token's
# SHA-256, web/session.c; the request buffers of libmicrohttpd may still hold a recent one.)
run 0 curl -si -b "$T/jar" -c "$T/jar2" -H "Origin: $WEB" --data-urlencode "password=$WEB_PASSWORD" "$WEB/login"
token2=$(grep deployex_session "$T/jar2" | awk '{print $7}')
assert_eq 64 "${#token2}" "a second login gets a session cookie"
[ "$token2" != "$token" ] || fail "a login presenting a session cookie got the same token back"
ok
assert_eq 200 "$(http_code -b "$T/jar2" "$WEB/api/status")" "the new session works"
assert_eq 200 "$(http_code -b "$T/jar" "$WEB/api/status")" "the first one still does"
assert_eq 200 "$(http_code -b "$T/jar" "$WEB/")" "the dashboard with a session"
assert_contains "$(curl -s -b "$T/jar" "$WEB/history?app=demo")" 'src="/assets/history.js"' "the history page"
assert_contains "$(curl -s -b "$T/jar" "$WEB/logs?app=demo&n=1")" 'src="/assets/logs.js"' "the logs page"
# Only the shell page relaxes the CSP, and only for inline styles (xterm.js sets them).
run 0 curl -si -b "$T/jar" "$WEB/shell?app=demo&n=1"
assert_contains "$OUT" "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" \
        "the shell page's CSP"
run 0 curl -si -b "$T/jar" "$WEB/"
assert_not_contains "$OUT" "unsafe-inline" "the dashboard's CSP allows no inline style"

# The API answers what the CLI prints.
mkdir -p "$T/var/state/demo"
cat >"$T/var/state/demo/history.jsonl" <<'JSONL'
{"at":"2026-12-01T10:00:00Z","app":"demo","instance":1,"kind":"full","from":null,"version":"1.0.0","hash":"h1","result":"ok","reason":null}
{"at":"2026-12-01T11:00:00Z","app":"demo","instance":1,"kind":"full","from":"1.0.0","version":"1.0.1","hash":"h2","result":"failed","reason":"not ready after 20 s"}
JSONL
printf '[{"version":"1.0.1","hash":"h2","at":"2026-12-01T11:00:00Z","reason":"not ready after 20 s"}]\n' >"$T/var/state/demo/ghosts.json"
for route in "status:status --json" "apps/demo/history:history --json demo" \
             "apps/demo/ghosts:ghosts --json demo" "apps/demo/plan:plan --json demo" \
             "plan:plan --json"; do
        api=${route%%:*} cli=${route#*:}
        run 0 curl -s -b "$T/jar" "$WEB/api/$api"
        web_doc=$(printf '%s' "$OUT" | jq -S .)
        # shellcheck disable=SC2086
        run 0 dx $cli
        assert_eq "$(printf '%s' "$OUT" | jq -S .)" "$web_doc" "/api/$api is '$cli'"
done
run 0 curl -s -b "$T/jar" "$WEB/api/host"
assert_eq "number" "$(jqr "$OUT" '.mem_total_bytes | type')" "/api/host memory"
assert_eq "3" "$(jqr "$OUT" '.load | length')" "/api/host load"
assert_eq 404 "$(http_code -b "$T/jar" "$WEB/api/apps/nosuch/history")" "unknown app"
assert_eq "no such app" "$(curl -s -b "$T/jar" "$WEB/api/apps/nosuch/history" | jq -r .error)" "404 is one line of JSON"
assert_eq 404 "$(http_code -b "$T/jar" "$WEB/api/nothing")" "unknown route"
assert_eq 405 "$(http_code -b "$T/jar" -X DELETE "$WEB/api/status")" "unknown method"

# CSRF: a POST needs the session's token and our Origin.
assert_eq 403 "$(http_code -b "$T/jar" -H "Origin: $WEB" -d '{}' "$WEB/api/apps/demo/pause")" "no CSRF token"
assert_eq 403 "$(http_code -b "$T/jar" -H "Origin: $WEB" -H "X-CSRF-Token: $(printf '%064d' 0)" -d '{}' "$WEB/api/apps/demo/pause")" "a wrong CSRF token"
assert_eq 403 "$(http_code -b "$T/jar" -H "Origin: http://evil.example" -H "X-CSRF-Token: $CSRF" -d '{}' "$WEB/api/apps/demo/pause")" "another origin"
assert_eq 403 "$(http_code -b "$T/jar" -d '{}' "$WEB/api/apps/demo/pause")" "no Origin and no CSRF token"
assert_eq 403 "$(http_code -b "$T/jar" -H "Sec-Fetch-Site: same-origin" -d '{}' "$WEB/api/apps/demo/pause")" "a browser's same-origin POST without the CSRF token"
assert_eq 403 "$(http_code -b "$T/jar" -H "Origin: null" -H "X-CSRF-Token: $CSRF" -d '{}' "$WEB/api/apps/demo/pause")" "Origin null alone"
assert_eq 403 "$(http_code -b "$T/jar" -H "Origin: $WEB" -H "Sec-Fetch-Site: cross-site" -H "X-CSRF-Token: $CSRF" -d '{}' "$WEB/api/apps/demo/pause")" "Sec-Fetch-Site: cross-site"
assert_eq 403 "$(http_code -b "$T/jar" -H "Origin: null" -H "Sec-Fetch-Site: same-site" -H "X-CSRF-Token: $CSRF" -d '{}' "$WEB/api/apps/demo/pause")" "Sec-Fetch-Site: same-site"
[ ! -e "$T/overrides/demo.json" ] || fail "a refused POST wrote the override"
ok

# A browser under Referrer-Policy: no-referrer says "Origin: null" and Sec-Fetch-Site: same-origin.
assert_eq 200 "$(http_code -b "$T/jar" -H "Origin: null" -H "Sec-Fetch-Site: same-origin" -H "X-CSRF-Token: $CSRF" -d '{}' "$WEB/api/apps/demo/resume")" "a same-origin browser POST"
# No browser at all (no Origin, no Sec-Fetch-Site): the CSRF token decides.
assert_eq 200 "$(http_code -b "$T/jar" -H "X-CSRF-Token: $CSRF" -d '{}' "$WEB/api/apps/demo/resume")" "curl with the session's CSRF token"
rm -f "$T/overrides/demo.json"

# Actions write the override file exactly as the CLI does.
WEB="$WEB" web_post /api/apps/demo/pause
assert_eq 200 "$CODE" "pause: $BODY"
assert_eq '{"paused":true}' "$(cat "$T/overrides/demo.json")" "pause wrote the override"
cp "$T/overrides/demo.json" "$T/web-pause.json"
dx resume demo >/dev/null && dx pause demo >/dev/null
cmp -s "$T/overrides/demo.json" "$T/web-pause.json" || fail "the CLI and the UI write different overrides"
ok
web_post /api/apps/demo/pin '{"version": "1.0.0"}'
assert_eq 400 "$CODE" "an unpublished version is refused: $BODY"
assert_contains "$BODY" "1.0.0 is not published" "and says why"
printf 'tarball' >"$T/bucket/dist/demo/demo-1.0.0.tar.gz"
web_post /api/apps/demo/pin '{"version": "1.0.0"}'
assert_eq 200 "$CODE" "pin: $BODY"
assert_eq "1.0.0" "$(jq -r .version "$T/overrides/demo.json")" "pin wrote the version"
assert_eq "true" "$(jq -r .paused "$T/overrides/demo.json")" "pin kept the pause"
assert_eq "override" "$(dx status --json | jq -r '.apps[0].desired.origin')" "status sees the pin"
web_post /api/apps/demo/pin '{"version": "1.0.1"}'
assert_eq 400 "$CODE" "a pin to a ghost is refused"
assert_contains "$BODY" "1.0.1 is ghosted" "with the ghost's reason"
web_post /api/apps/demo/pin '{"version": "1.0.1", "force": true}'
assert_eq 200 "$CODE" "a forced pin to a ghost is written"
assert_contains "$(jqr "$BODY" .warning)" "demo 1.0.1 is ghosted" "and warned about"
web_post /api/apps/demo/unpin
assert_eq 200 "$CODE" "unpin"
assert_eq "null" "$(jq -r .version "$T/overrides/demo.json")" "unpin removed the version"
web_post /api/apps/demo/resume
assert_eq "false" "$(jq -r '.paused // false' "$T/overrides/demo.json")" "resume"
web_post /api/apps/demo/restart '{"instance": 2}'
assert_eq 200 "$CODE" "restart one"
assert_eq "1" "$(jq '.restart_instances | length' "$T/overrides/demo.json")" "restart token of instance 2"
web_post /api/apps/demo/restart
assert_eq "string" "$(jq -r '.restart | type' "$T/overrides/demo.json")" "rolling restart token"
web_post /api/apps/demo/restart '{"instance": "1"}'
assert_eq 200 "$CODE" "restart one, the instance as a string: $BODY"
assert_eq "1 2" "$(jq -r '.restart_instances | keys | join(" ")' "$T/overrides/demo.json")" "restart token of instance 1"
web_post /api/apps/demo/unghost '{"version": "1.0.1"}'
assert_eq 200 "$CODE" "unghost"
assert_eq "[]" "$(dx ghosts --json demo)" "unghosted"
web_post /api/apps/demo/unghost '{"version": "1.0.1"}'
assert_eq 400 "$CODE" "unghost of a version that is not ghosted"
assert_contains "$(jqr "$BODY" .error)" "demo 1.0.1 is not ghosted" "says why"
# DESIGN §9's {"version" | "all"}: {"all": true} and {"version": "all"} unghost every version.
printf '[{"version":"1.0.1","hash":"h2","at":"2026-12-01T11:00:00Z","reason":"x"},{"version":"1.0.2","hash":"h3","at":"2026-12-01T11:00:00Z","reason":"y"}]\n' >"$T/var/state/demo/ghosts.json"
web_post /api/apps/demo/unghost '{"version": "all"}'
assert_eq 200 "$CODE" "unghost {\"version\": \"all\"}: $BODY"
assert_eq "[]" "$(dx ghosts --json demo)" "every version unghosted"
printf '[{"version":"1.0.1","hash":"h2","at":"2026-12-01T11:00:00Z","reason":"x"}]\n' >"$T/var/state/demo/ghosts.json"
web_post /api/apps/demo/unghost '{"all": true}'
assert_eq 200 "$CODE" "unghost {\"all\": true}: $BODY"
assert_eq "[]" "$(dx ghosts --json demo)" "unghosted by all"
# A ghost literally named "all" is still unghosted alone.
printf '[{"version":"all","hash":"h","at":"2026-12-01T11:00:00Z","reason":"x"},{"version":"1.0.1","hash":"h2","at":"2026-12-01T11:00:00Z","reason":"x"}]\n' >"$T/var/state/demo/ghosts.json"
web_post /api/apps/demo/unghost '{"version": "all"}'
assert_eq '["1.0.1"]' "$(dx ghosts --json demo | jq -c 'map(.version)')" "the ghost named all alone"
rm -f "$T/var/state/demo/ghosts.json"

# Bad bodies: one-line JSON errors, nothing written.
before=$(cat "$T/overrides/demo.json")
web_post /api/apps/demo/pin '{"version": '
assert_eq 400 "$CODE" "malformed JSON"
assert_eq 1 "$(printf '%s\n' "$BODY" | wc -l | tr -d ' ')" "the error is one line"
assert_contains "$(jqr "$BODY" .error)" "body:" "names the body"
web_post /api/apps/demo/pin '["1.0.0"]'
assert_eq 400 "$CODE" "not an object"
web_post /api/apps/demo/pin '{"version": "../../etc"}'
assert_eq 400 "$CODE" "not a version"
web_post /api/apps/demo/pin '{"version": 5}'
assert_eq 400 "$CODE" "version not a string"
web_post /api/apps/demo/pin '{}'
assert_eq 400 "$CODE" "pin without a version"
web_post /api/apps/demo/restart '{"instance": 3}'
assert_eq 400 "$CODE" "restart of an instance that does not exist"
web_post /api/apps/demo/restart '{"instance": "two"}'
assert_eq 400 "$CODE" "restart of an instance that is not a number"
web_post /api/apps/demo/restart '{"instance": true}'
assert_eq 400 "$CODE" "restart of an instance that is not a number or string"
web_post /api/apps/demo/explode
assert_eq 404 "$CODE" "unknown action"
web_post /api/apps/nosuch/pause
assert_eq 404 "$CODE" "unknown app"
assert_eq "$before" "$(cat "$T/overrides/demo.json")" "bad requests wrote nothing"

# Oversized bodies: refused by Content-Length before reading, or cut when chunked.
head -c 100000 /dev/zero | tr '\0' 'a' >"$T/big"
assert_eq 413 "$(http_code -b "$T/jar" -H "Origin: $WEB" -H "X-CSRF-Token: $CSRF" --data-binary @"$T/big" "$WEB/api/apps/demo/pause")" "a 100 kB body"
code=$(http_code -b "$T/jar" -H "Origin: $WEB" -H "X-CSRF-Token: $CSRF" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" "$WEB/api/apps/demo/pause")
[ "$code" != 200 ] || fail "a chunked 100 kB body was accepted"
ok
assert_eq 200 "$(http_code "$WEB/health")" "still serving after the big bodies"

# Static names that try to leave the assets directory.
for path in "/assets/../deployex.json" "/assets/%2e%2e/deployex.json" "/assets/..%2fdeployex.json" \
            "/assets/planted.js" "/assets/.hidden" "/assets/" "/assets//etc/passwd" \
            "/assets/a/../../x" "/assets/x/%2e%2e/%2e%2e/deployex.json"; do
        assert_eq 404 "$(http_code --path-as-is -b "$T/jar" "$WEB$path")" "static '$path'"
done
assert_eq 200 "$(http_code "$WEB/assets/style.css")" "a real asset"
assert_eq "text/css; charset=utf-8" "$(curl -s -o /dev/null -w '%{content_type}' "$WEB/assets/style.css")" "its type"

# Logs: the last lines, then what is appended (the CLI's reader behind SSE).
mkdir -p "$T/log/demo"
printf 'one\ntwo\nthree\n' >"$T/log/demo/demo-1-stdout.log"
run 0 curl -s -b "$T/jar" "$WEB/api/apps/demo/instances/1/logs?lines=2"
assert_eq "data: two
data: three
event: end" "$(printf '%s' "$OUT" | grep -v '^$' | grep -v '^data: $')" "the last 2 lines, then the end"
curl -sN -b "$T/jar" "$WEB/api/apps/demo/instances/1/logs?lines=1&follow=1" >"$T/follow.out" &
FOLLOW=$!
wait_for 10 "grep -q '^data: three' '$T/follow.out'" "the follower's first line"
echo four >>"$T/log/demo/demo-1-stdout.log"
wait_for 10 "grep -q '^data: four' '$T/follow.out'" "a new line streamed"
kill $FOLLOW
printf 'err one\nerr two\n' >"$T/log/demo/demo-1-stderr.log"
run 0 curl -s -b "$T/jar" "$WEB/api/apps/demo/instances/1/logs?stream=stderr&lines=1"
assert_eq "data: err two
event: end" "$(printf '%s' "$OUT" | grep -v '^$' | grep -v '^data: $')" "stream=stderr: the stderr log"
assert_eq 400 "$(http_code -b "$T/jar" "$WEB/api/apps/demo/instances/1/logs?stream=both")" "bad stream"
assert_eq 404 "$(http_code -b "$T/jar" "$WEB/api/apps/demo/instances/3/logs")" "no instance 3"
wait_for 10 "! pgrep -f 'logs demo 1 -n 1 -f' >/dev/null" "the log follower to end with its stream"

# The shell's WebSocket: a session, this server's Origin and a single-use
# ticket from an authenticated POST, or no upgrade.  (No daemon runs here:
# the shell that opens says why it cannot reach the instance, then ends.)
WS="ws://127.0.0.1:$PORT/api/apps/demo/instances/1/shell"
SESSION="deployex_session=$(awk '$6 == "deployex_session" {print $7}' "$T/jar")"
WSC="$DEPLOYEX_TOP/tests/integration/ws_client.py"
assert_eq "status 401" "$(python3 "$WSC" "$WS" --origin "$WEB")" "no WebSocket without a session"
assert_eq 403 "$(http_code -b "$T/jar" -H "Origin: $WEB" -X POST "$WEB/api/apps/demo/instances/1/shell")" "no ticket without the CSRF token"
web_post /api/apps/demo/instances/1/shell
assert_eq 200 "$CODE" "a ticket"
TICKET=$(jqr "$BODY" .ticket)
assert_eq 32 "${#TICKET}" "a 128-bit ticket"
assert_eq "status 403" "$(python3 "$WSC" "$WS?ticket=$TICKET" --cookie "$SESSION" --origin http://evil.example)" "another site's Origin"
assert_eq "status 403" "$(python3 "$WSC" "$WS?ticket=$TICKET" --cookie "$SESSION" --origin null)" "Origin: null"
assert_eq "status 403" "$(python3 "$WSC" "$WS?ticket=$TICKET" --cookie "$SESSION")" "no Origin"
assert_eq "status 403" "$(python3 "$WSC" "$WS" --cookie "$SESSION" --origin "$WEB")" "no ticket"
assert_eq "status 403" "$(python3 "$WSC" "${WS%/1/shell}/2/shell?ticket=$TICKET" --cookie "$SESSION" --origin "$WEB")" "instance 1's ticket on instance 2"
web_post /api/apps/demo/instances/1/shell
TICKET=$(jqr "$BODY" .ticket)
run 0 python3 "$WSC" "$WS?ticket=$TICKET" --cookie "$SESSION" --origin "$WEB"
assert_contains "$OUT" "status 101" "the upgrade, with session, Origin and ticket"
assert_contains "$OUT" "demo/1 has no current release" "the shell is deployex remote's"
assert_contains "$OUT" "close 1000 the shell ended" "and its end closes the socket"
assert_eq "status 403" "$(python3 "$WSC" "$WS?ticket=$TICKET" --cookie "$SESSION" --origin "$WEB")" "a ticket serves once"
assert_eq 400 "$(http_code -b "$T/jar" "$WEB/api/apps/demo/instances/1/shell")" "a plain GET is not a WebSocket"
assert_eq 404 "$(http_code -b "$T/jar" -H "Origin: $WEB" -H "X-CSRF-Token: $CSRF" -X POST "$WEB/api/apps/demo/instances/3/shell")" "no instance 3"
run 0 dx audit --json -n 0
assert_eq "true" "$(jqr "$OUT" '[.[] | select(.action == "shell" and .result == "ok")] | length == 1')" "the opened shell audited"
assert_eq "demo 1" "$(jqr "$OUT" '[.[] | select(.action == "shell" and .result == "ok")][0] | "\(.app) \(.detail)"')" "with its instance"
assert_eq "true" "$(jqr "$OUT" '[.[] | select(.action == "shell" and .result == "failed")] | length >= 5')" "and the refusals"

# The process list: needs a session; without a node a one-line 502 that says why.
assert_eq 401 "$(http_code "$WEB/api/apps/demo/instances/1/processes")" "processes without a session"
run 0 curl -s -w '\n%{http_code}' -b "$T/jar" "$WEB/api/apps/demo/instances/1/processes"
assert_eq 502 "$(printf '%s' "$OUT" | tail -n 1)" "processes of a node that is not running"
assert_contains "$(printf '%s' "$OUT" | sed '$d' | jq -r .error)" "demo/1: node demo-1@" "the error names the node"
assert_eq 404 "$(http_code -b "$T/jar" "$WEB/api/apps/demo/instances/3/processes")" "processes of no instance 3"

# Every action is audited with its origin; the CLI shows the log.
run 0 dx audit --json -n 0
assert_eq "web" "$(jqr "$OUT" '[.[] | select(.action == "pause")][0].via')" "the UI's pause audited"
assert_eq "127.0.0.1" "$(jqr "$OUT" '[.[] | select(.action == "pause")][0].from')" "from its address"
assert_eq "cli" "$(jqr "$OUT" '[.[] | select(.action == "pause")][1].via')" "the CLI's pause audited"
assert_eq "failed" "$(jqr "$OUT" '[.[] | select(.action == "login" and .result == "failed")][0].result')" "the failed login"
assert_eq "ok" "$(jqr "$OUT" '[.[] | select(.action == "login" and .result == "ok")][0].result')" "the good login"
assert_eq "failed" "$(jqr "$OUT" '[.[] | select(.action == "unghost")][1].result')" "a refused action"
run 0 dx audit -n 3
assert_eq 3 "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" "audit -n 3"

# Logout ends the session on the server: the old cookie is refused, and the
# streams opened with it end.
curl -sN -b "$T/jar" "$WEB/api/events" >"$T/events.out" 2>/dev/null &
EVENTS=$!
curl -sN -b "$T/jar" "$WEB/api/apps/demo/instances/1/logs?lines=1&follow=1" >"$T/logs.out" 2>/dev/null &
LOGS=$!
wait_for 10 "grep -q '^event: status' '$T/events.out' && grep -q '^data: four' '$T/logs.out'" "two open streams"
web_post /logout
assert_eq 200 "$CODE" "logout"
assert_eq 401 "$(http_code -b "$T/jar" "$WEB/api/status")" "the session is gone"
assert_eq 401 "$(http_code -b "$T/jar" "$WEB/api/events")" "no new stream"
wait_for 10 "! kill -0 $EVENTS 2>/dev/null" "the event stream to end with its session"
wait_for 10 "! kill -0 $LOGS 2>/dev/null" "the log stream to end with its session"

# Rate limits: 5 failures from one address, then 429 for a while, even with
# the right password; 20 failures in all close the door to every address.
for i in 2 3 4 5; do # the first failure was the wrong password above
        assert_eq 303 "$(http_code -H "Origin: $WEB" -d password=wrong "$WEB/login")" "failure $i"
done
run 0 curl -si -H "Origin: $WEB" --data-urlencode "password=$WEB_PASSWORD" "$WEB/login"
assert_contains "$OUT" "HTTP/1.1 429" "the 6th attempt is refused"
retry=$(printf '%s' "$OUT" | grep -i '^Retry-After:' | tr -dc 0-9)
[ "$retry" -ge 1 ] && [ "$retry" -le 60 ] || fail "Retry-After is $retry"
ok
assert_eq 303 "$(http_code --interface 127.0.0.2 -H "Origin: $WEB" -d password=wrong "$WEB/login")" "another address may still try"
for a in 3 4 5; do
        for i in 1 2 3 4 5; do http_code --interface 127.0.0.$a -H "Origin: $WEB" -d password=wrong "$WEB/login" >/dev/null; done
done
assert_eq 429 "$(http_code --interface 127.0.0.9 -H "Origin: $WEB" --data-urlencode "password=$WEB_PASSWORD" "$WEB/login")" "the global limit"

# The slow client was cut by the connection timeout, and served nobody else's time.
wait_for 45 "grep -q closed '$T/slow.out'" "the slow client to be cut"
secs=$(tr -dc 0-9 <"$T/slow.out")
[ "$secs" -ge 25 ] && [ "$secs" -le 40 ] || fail "the slow client was cut after $secs s"
ok

kill -TERM "$WEB_PID"
wait "$WEB_PID"; rc=$?
assert_eq 0 "$rc" "deployex web exits 0 on SIGTERM"
finish
