# The admin UI in a real browser (headless Chromium driven by playwright-core)
# against `deployex run` deploying a real Erlang release: login, a wrong
# password, the dashboard's real instances, a restart clicked and seen live,
# pin and unpin with the rollout followed live (one event stream, no polling),
# destructive actions confirmed, pause, logs streaming, phone
# width, no console errors, CSP and cookie flags, logout, the login rate limit.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
PEERS="$DEPLOYEX_TOP/tests/peers"
if [ ! -x /usr/bin/chromium ] || [ ! -d "$PEERS/node_modules/playwright-core" ]; then
        echo "FAIL: needs /usr/bin/chromium (scripts/install-deps) and playwright-core (scripts/install-test-peers)" >&2
        exit 1
fi
# textContent only: no page sets markup from data.
if grep -n 'innerHTML\|outerHTML\|insertAdjacentHTML\|document.write' "$DEPLOYEX_TOP"/web/assets/*.js; then
        fail "an asset writes HTML from strings"
fi
ok
epmd -daemon
BASE=47980 PORT=47990

demo_config 2 $BASE
add_http $PORT
publish_demo 1.0.0
DEPLOYEX_WEB_USER=- start_daemon
wait_for 60 "all_running 2 1.0.0" "2 replicas running 1.0.0"
publish_demo 1.0.1
wait_for 90 "all_running 2 1.0.1" "2 replicas running 1.0.1"
wait_for 20 "curl -sf 'http://127.0.0.1:$PORT/health'" "the web UI"

WEB="http://127.0.0.1:$PORT" CONFIG="$T/deployex.json" PEERS="$PEERS" LOGDIR="$T/log" \
SHOTS="${DEPLOYEX_UI_SHOTS:-$T/shots}" PASSWORD="$WEB_PASSWORD" \
        node "$DEPLOYEX_TOP/tests/ui/web_ui.mjs" || fail "the browser test failed"
ok
finish
