# The web UI over HTTPS (http.tls_cert and http.tls_key, DESIGN §8 and §9):
# a listen address that is not loopback is accepted once TLS is set; every
# answer carries HSTS besides the other security headers; the session cookie
# is __Host- prefixed and Secure; logins and state changes must come from the
# https:// origin; plain HTTP on the port serves nothing.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
PORT=47930
WEB="https://127.0.0.1:$PORT"

demo_config 1 47920
add_http $PORT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$T/web.key" -out "$T/web.crt" 2>/dev/null ||
        fail "cannot make the test certificate"
chmod 0600 "$T/web.key"
jq --arg c "$T/web.crt" --arg k "$T/web.key" '.http.tls_cert = $c | .http.tls_key = $k' \
        "$T/deployex.json" >"$T/c.json" && mv "$T/c.json" "$T/deployex.json"
# Every curl below verifies the server against the test certificate.
hcurl() { curl -s --cacert "$T/web.crt" "$@"; }

# A public address is fine with TLS (web_http.sh: refused without it).
jq '.http.listen = "0.0.0.0:47931"' "$T/deployex.json" >"$T/public.json"
run 0 "$DEPLOYEX" -c "$T/public.json" check --offline
assert_not_contains "$OUT$ERR" "loopback" "check accepts a public address over HTTPS"

setsid "$DEPLOYEX" -c "$T/deployex.json" web >>"$T/web.log" 2>&1 &
WEB_PID=$!
KILL_GROUPS="$WEB_PID"
wait_for 10 "hcurl -f '$WEB/health'" "the web UI to answer /health over HTTPS"
assert_contains "$(cat "$T/web.log")" "web UI on https://127.0.0.1:$PORT" "the log says HTTPS"

run 0 hcurl -i "$WEB/health"
assert_contains "$OUT" "HTTP/1.1 200" "/health over HTTPS"
assert_contains "$OUT" "Strict-Transport-Security: max-age=31536000" "HSTS over HTTPS"
assert_contains "$OUT" "Content-Security-Policy: default-src 'none'" "CSP"
assert_contains "$OUT" "X-Content-Type-Options: nosniff" "nosniff"
assert_contains "$OUT" "Cache-Control: no-store" "no-store"
assert_eq 000 "$(http_code --max-time 5 "http://127.0.0.1:$PORT/health")" "plain HTTP gets no answer"

# The login: only from the https:// origin; a __Host- cookie, Secure.
assert_eq 403 "$(http_code --cacert "$T/web.crt" -H "Origin: http://127.0.0.1:$PORT" \
        --data-urlencode "password=$WEB_PASSWORD" "$WEB/login")" "a login from the http:// origin"
run 0 hcurl -i -c "$T/jar" -H "Origin: $WEB" --data-urlencode "password=$WEB_PASSWORD" "$WEB/login"
assert_contains "$OUT" "Location: /" "the right password goes to the dashboard"
cookie=$(printf '%s' "$OUT" | grep -i '^Set-Cookie:' | tr -d '\r')
assert_contains "$cookie" "__Host-deployex_session=" "the cookie is __Host- prefixed"
assert_contains "$cookie" "; Secure" "Secure"
assert_contains "$cookie" "HttpOnly" "HttpOnly"
assert_contains "$cookie" "SameSite=Strict" "SameSite=Strict"
assert_contains "$cookie" "Path=/" "Path=/ (a __Host- cookie must have it)"
assert_not_contains "$cookie" "Domain=" "no Domain (a __Host- cookie must not have one)"
assert_eq 200 "$(http_code --cacert "$T/web.crt" -b "$T/jar" "$WEB/api/status")" "the session works"
CSRF=$(hcurl -b "$T/jar" "$WEB/api/session" | jq -r .csrf)
assert_eq 64 "${#CSRF}" "a CSRF token"

# A state change: the https:// origin writes the override, the http:// one is refused.
assert_eq 403 "$(http_code --cacert "$T/web.crt" -b "$T/jar" -H "Origin: http://127.0.0.1:$PORT" \
        -H "X-CSRF-Token: $CSRF" -d '{}' "$WEB/api/apps/demo/pause")" "a POST from the http:// origin"
[ ! -e "$T/overrides/demo.json" ] || fail "the refused POST wrote an override"
ok
assert_eq 200 "$(http_code --cacert "$T/web.crt" -b "$T/jar" -H "Origin: $WEB" \
        -H "X-CSRF-Token: $CSRF" -d '{}' "$WEB/api/apps/demo/pause")" "a POST from the https:// origin"
assert_eq true "$(jq -r .paused "$T/overrides/demo.json")" "the pause is written as the CLI writes it"

# Logout clears the __Host- cookie and ends the session.
run 0 hcurl -i -b "$T/jar" -H "Origin: $WEB" -H "X-CSRF-Token: $CSRF" -X POST "$WEB/logout"
assert_contains "$(printf '%s' "$OUT" | grep -i '^Set-Cookie:')" "__Host-deployex_session=;" "logout clears the cookie"
assert_eq 401 "$(http_code --cacert "$T/web.crt" -b "$T/jar" "$WEB/api/status")" "the session is gone"

kill -TERM "$WEB_PID"
wait_for 10 "! kill -0 $WEB_PID" "the web UI to exit on SIGTERM"
finish
