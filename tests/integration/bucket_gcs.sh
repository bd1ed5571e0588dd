# gs:// end to end: a GCS peer that verifies the service account's RS256 JWT
# and serves the JSON API; the source + release_fetch through
# test_bucket_gcs_peer, and the CLI reading current.json from gs://.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
. "$DEPLOYEX_TOP/tests/peers/peers.sh"

GCP=48120
EMAIL=deployex@test-project.iam.gserviceaccount.com
# Keys are made here, never committed: the trusted one and a stranger.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sa.pem" 2>/dev/null || fail "openssl genpkey"
openssl pkey -in "$T/sa.pem" -pubout -out "$T/sa.pub" 2>/dev/null || fail "openssl pkey"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.pem" 2>/dev/null || fail "openssl genpkey"
sa_json() { # PEM
        jq -n --arg k "$(cat "$1")" --arg e "$EMAIL" --arg u "http://127.0.0.1:$GCP/token" \
                '{type: "service_account", project_id: "test-project", private_key_id: "k1",
                  private_key: $k, client_email: $e, token_uri: $u}'
}
sa_json "$T/sa.pem" >"$T/sa.json"
sa_json "$T/other.pem" >"$T/other.json"
chmod 600 "$T/sa.json" "$T/other.json"

mkdir -p "$T/objects"
start_peer gcp gcp --port $GCP --dir "$T/objects" --sa-pub "$T/sa.pub" --sa-email "$EMAIL"
export GOOGLE_APPLICATION_CREDENTIALS="$T/sa.json"
unset GCE_METADATA_HOST DEPLOYEX_GCE_METADATA_HOST 2>/dev/null

mkdir -p "$T/c"
DEPLOYEX_TEST_GCS_ENDPOINT=http://127.0.0.1:$GCP DEPLOYEX_TEST_GCS_DIR="$T/objects" \
DEPLOYEX_TEST_GCS_LOG="$T/gcp.log" DEPLOYEX_TEST_GCS_BAD_KEY="$T/other.json" \
DEPLOYEX_TEST_ROOT="$T/c" run_peer_test test_bucket_gcs_peer

# The CLI, with the key file named in the config instead of the environment.
unset GOOGLE_APPLICATION_CREDENTIALS
mkdir -p "$T/log" "$T/overrides"
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "gs://releases/pfx x", "gcs_endpoint": "http://127.0.0.1:$GCP",
 "gcp_credentials": "$T/sa.json", "var_path": "$T/c/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "secret-cookie",
 "apps": [{"name": "myapp", "language": "elixir", "user": "root", "replicas": 1, "ports": {"PORT": 47310}}]}
JSON
printf '{"version": "5.0.0", "hash": "gcs"}' >"$T/objects/releases/pfx x/versions/myapp/prod/current.json"
run 0 dx check
assert_contains "$OUT" "current.json publishes 5.0.0" "check reads current.json from gs://"
run 0 dx status --json
assert_eq "5.0.0" "$(jqr "$OUT" '.apps[0].desired.version')" "status: desired version from gs://"
assert_eq "null" "$(jqr "$OUT" '.apps[0].desired.error')" "status: no error"

# A key the token endpoint does not trust.
sed "s|$T/sa.json|$T/other.json|" "$T/deployex.json" >"$T/other-config.json"
run 0 "$DEPLOYEX" -c "$T/other-config.json" status --json
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "invalid_grant: Invalid JWT Signature." "status shows the refused key"
assert_not_contains "$OUT$ERR" "PRIVATE KEY" "the key stays out of status"
assert_eq "1.1.0" "$(jqr "$OUT" '.apps[0].desired.version')" "last good version kept"

# Outage and recovery.
stop_peer gcp
run 0 dx status --json
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "127.0.0.1:$GCP" "status shows the outage"
assert_eq "1.1.0" "$(jqr "$OUT" '.apps[0].desired.version')" "last good version kept during the outage"
start_peer gcp gcp --port $GCP --dir "$T/objects" --sa-pub "$T/sa.pub" --sa-email "$EMAIL"
run 0 dx status --json
assert_eq "5.0.0" "$(jqr "$OUT" '.apps[0].desired.version')" "back after the outage"
finish
