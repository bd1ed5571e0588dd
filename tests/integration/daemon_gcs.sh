# The daemon on a gs:// bucket (the GCS peer verifying the service account's
# RS256 JWT): the long-lived poller mints one access token and keeps one
# connection for many unchanged polls (each a 304), a killed poller is
# restarted with the reason logged, and polling goes on: a new version rolls
# out.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
. "$DEPLOYEX_TOP/tests/peers/peers.sh"
epmd -daemon
GCP=48150 BASE=47380
EMAIL=deployex@test-project.iam.gserviceaccount.com
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sa.pem" 2>/dev/null || fail "openssl genpkey"
openssl pkey -in "$T/sa.pem" -pubout -out "$T/sa.pub" 2>/dev/null || fail "openssl pkey"
jq -n --arg k "$(cat "$T/sa.pem")" --arg e "$EMAIL" --arg u "http://127.0.0.1:$GCP/token" \
        '{type: "service_account", project_id: "test-project", private_key_id: "k1",
          private_key: $k, client_email: $e, token_uri: $u}' >"$T/sa.json"
chmod 600 "$T/sa.json"
mkdir -p "$T/objects/releases"
start_peer gcp gcp --port $GCP --dir "$T/objects" --sa-pub "$T/sa.pub" --sa-email "$EMAIL"
unset GOOGLE_APPLICATION_CREDENTIALS GCE_METADATA_HOST DEPLOYEX_GCE_METADATA_HOST 2>/dev/null

demo_config 2 $BASE
jq --arg ep "http://127.0.0.1:$GCP" --arg sa "$T/sa.json" '.source = "gs://releases" |
    .gcs_endpoint = $ep | .gcp_credentials = $sa | .poll_interval_ms = 200' \
        "$T/deployex.json" >"$T/c.json"
mv "$T/c.json" "$T/deployex.json"

gcs_put() { # OBJECT FILE
        mkdir -p "$(dirname "$T/objects/releases/$1")"
        cp "$2" "$T/objects/releases/$1.tmp" && mv "$T/objects/releases/$1.tmp" "$T/objects/releases/$1"
}
gcs_publish() { # VERSION
        tarball=$(demo_release "$1")
        gcs_put "dist/demo/demo-$1.tar.gz" "$tarball"
        printf '{"version": "%s", "sha256": "%s"}\n' "$1" "$(sha256sum "$tarball" | cut -d' ' -f1)" >"$T/cur.json"
        gcs_put "versions/demo/prod/current.json" "$T/cur.json"
}
polls304() { grep -c '"status":304' "$T/gcp.log"; }
tokens() { grep '"path":"/token"' "$T/gcp.log" | grep -c '"status":200'; }
poller() { ps --ppid "$DAEMON_PID" -o pid=,args= | awk '/__poller/ { print $1 }'; }

gcs_publish 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "a rollout from gs://"

# Many unchanged polls: one token, one connection, each poll one 304.  From
# here on only the poller asks the peer (status would mint its own token).
p1=$(poller)
[ -n "$p1" ] || fail "no __poller child of the daemon: $(ps --ppid "$DAEMON_PID" -o pid=,args=)"
l0=$(wc -l <"$T/gcp.log") t0=$(tokens) n0=$(polls304)
wait_for 60 '[ $(polls304) -ge $((n0 + 20)) ]' "20 more unchanged polls"
assert_eq "$t0" "$(tokens)" "no token minted for 20 polls"
current=$(tail -n +$((l0 + 1)) "$T/gcp.log" | grep 'versions%2Fdemo%2Fprod%2Fcurrent.json')
assert_eq "1" "$(printf '%s\n' "$current" | jq -r .tok | sort -u | wc -l)" \
        "$(printf '%s\n' "$current" | wc -l) polls of current.json with one token"
assert_eq "1" "$(printf '%s\n' "$current" | jq -r .port | sort -u | wc -l)" \
        "$(printf '%s\n' "$current" | wc -l) polls of current.json over one connection"
assert_eq "0" "$(printf '%s\n' "$current" | jq -r 'select(.status != 304) | .status' | wc -l)" \
        "every unchanged poll is a 304"
ok

# A killed poller is restarted, the reason logged, and polling goes on.
kill -KILL "$p1"
wait_for 10 "grep -q 'worker poller (pid $p1) killed by signal 9' '$T/daemon.log'" "the poller's death logged"
wait_for 10 '[ -n "$(poller)" ] && [ "$(poller)" != "$p1" ]' "a new poller"
gcs_publish 1.0.1
wait_for 60 "all_running 2 1.0.1" "1.0.1 from gs:// after the restart"
grep -q "PRIVATE KEY" "$T/daemon.log" && fail "the key leaked into the log"
ok
finish
