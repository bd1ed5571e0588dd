# GET /metrics on the real `deployex web`, per http.metrics: "login" (a
# session, or HTTP Basic with the admin password as a Prometheus scrape job
# sends it), "public", "off"; the body is the exposition, parsed strictly.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
CHECK="python3 $DEPLOYEX_TOP/tests/integration/prom_check.py"
demo_config 1 47960
add_http 47961
export DEPLOYEX_WEB_PATH="$DEPLOYEX_TOP/web/assets"

# login (the default)
start_web 47961
run 0 curl -si "$WEB/metrics"
assert_contains "$OUT" "HTTP/1.1 401" "no credentials"
assert_contains "$OUT" 'WWW-Authenticate: Basic realm="deployex metrics"' "Basic auth offered"
assert_eq 401 "$(http_code -u prometheus:wrong "$WEB/metrics")" "a wrong password"
run 0 curl -sf -u "prometheus:$WEB_PASSWORD" -D "$T/h" "$WEB/metrics"
printf '%s\n' "$OUT" | $CHECK - >/dev/null || fail "invalid exposition from /metrics"; ok
assert_contains "$OUT" 'deployex_instance_up{app="demo",instance="1"} 0' "the same metrics as the CLI"
assert_contains "$(cat "$T/h")" "Content-Type: text/plain; version=0.0.4" "the exposition content type"
web_login
assert_eq 200 "$(http_code -b "$T/jar" "$WEB/metrics")" "a session is enough"
kill -KILL "-$WEB_PID"; wait "$WEB_PID" 2>/dev/null

# public
jq '.http.metrics = "public" | .http.listen = "127.0.0.1:47962"' "$T/deployex.json" >"$T/d.tmp" && mv "$T/d.tmp" "$T/deployex.json"
start_web 47962
assert_eq 200 "$(http_code "$WEB/metrics")" "public: no credentials needed"
kill -KILL "-$WEB_PID"; wait "$WEB_PID" 2>/dev/null

# off
jq '.http.metrics = "off" | .http.listen = "127.0.0.1:47963"' "$T/deployex.json" >"$T/d.tmp" && mv "$T/d.tmp" "$T/deployex.json"
start_web 47963
assert_eq 404 "$(http_code -u "prometheus:$WEB_PASSWORD" "$WEB/metrics")" "off: not there"

# A bad value is named by check.
jq '.http.metrics = "yes"' "$T/deployex.json" >"$T/bad.json"
run 1 "$DEPLOYEX" -c "$T/bad.json" check
assert_contains "$ERR" 'http.metrics: must be "login", "public" or "off"' "check names the value"
finish
