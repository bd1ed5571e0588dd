# The secrets adapters against local secret stores: AWS Secrets Manager
# (SigV4 verified) with keys from the environment and from IMDSv2, and GCP
# Secret Manager behind the OAuth2 JWT flow (test_secrets_peer).
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
. "$DEPLOYEX_TOP/tests/peers/peers.sh"

AWS=48130 GCP=48131
EMAIL=secrets@test-project.iam.gserviceaccount.com
HASH='$2b$12$awsawsawsawsawsawsawsuABCDEFGHIJKLMNOPQRSTUVWXYZ01234'

mkdir -p "$T/aws-secrets" "$T/gcp-secrets/test-project" "$T/objects"
jq -n --arg h "$HASH" '{DEPLOYEX_ERLANG_COOKIE: "aws-cookie", DEPLOYEX_ADMIN_HASHED_PASSWORD: $h}' \
        >"$T/aws-secrets/deployex%2Fprod"
printf 'not json TOPSECRET' >"$T/aws-secrets/deployex%2Fgarbled"
printf '{"DEPLOYEX_ERLANG_COOKIE": "gcp-cookie", "DEPLOYEX_SECRET_KEY_BASE": "kb"}' \
        >"$T/gcp-secrets/test-project/deployex-prod"
printf '["TOPSECRET"]' >"$T/gcp-secrets/test-project/garbled"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sa.pem" 2>/dev/null || fail "openssl genpkey"
openssl pkey -in "$T/sa.pem" -pubout -out "$T/sa.pub" 2>/dev/null || fail "openssl pkey"
jq -n --arg k "$(cat "$T/sa.pem")" --arg e "$EMAIL" --arg u "http://127.0.0.1:$GCP/token" \
        '{type: "service_account", private_key: $k, client_email: $e, token_uri: $u}' >"$T/sa.json"

start_peer aws aws --port $AWS --secrets-dir "$T/aws-secrets" \
        --keys "AKIDSECRETS:sm-secret,ASIAIMDS:imdssecret:imdstoken" --imds-creds ASIAIMDS:imdssecret:imdstoken
start_peer gcp gcp --port $GCP --dir "$T/objects" --secrets-dir "$T/gcp-secrets" \
        --sa-pub "$T/sa.pub" --sa-email "$EMAIL"

export AWS_ACCESS_KEY_ID=AKIDSECRETS AWS_SECRET_ACCESS_KEY=sm-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true HOME="$T" GOOGLE_APPLICATION_CREDENTIALS="$T/sa.json"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE GOOGLE_CLOUD_PROJECT 2>/dev/null

DEPLOYEX_TEST_AWS_ENDPOINT=http://127.0.0.1:$AWS DEPLOYEX_TEST_GCP_ENDPOINT=http://127.0.0.1:$GCP \
        run_peer_test test_secrets_peer

# What the stores saw: signed GetSecretValue calls, one refused; a verified JWT.
assert_contains "$(cat "$T/aws.log")" '"target":"secretsmanager.GetSecretValue","status":400' "a refused signature"
assert_contains "$(cat "$T/aws.log")" '"target":"secretsmanager.GetSecretValue","status":200' "an accepted signature"
assert_contains "$(cat "$T/gcp.log")" '"path":"/token","inm":null,"status":200' "the JWT was accepted"
assert_contains "$(cat "$T/gcp.log")" '/versions/latest:access' "the latest version was asked for"

# `deployex run` reads the store (deployexd links no HTTP client) and hands the values to the
# daemon in its environment, as the env adapter reads them: never on its command line.
mkdir -p "$T/bucket"
printf '{"env": "prod", "source": "file://%s/bucket", "var_path": "%s/var", "log_path": "%s/log",
         "overrides_path": "%s/etc/deployex/overrides.d", "apps": []}\n' \
        "$T" "$T" "$T" "$T" >"$T/deployex.json"
DEPLOYEX_SECRETS_ADAPTER=aws DEPLOYEX_SECRETS_PATH=deployex/prod DEPLOYEX_SECRETS_ENDPOINT=http://127.0.0.1:$AWS \
        start_daemon
assert_eq "$(dirname "$DEPLOYEX")/deployexd" "$(readlink "/proc/$DAEMON_PID/exe")" "the daemon runs deployexd"
environ=$(tr '\0' '\n' <"/proc/$DAEMON_PID/environ")
assert_contains "$environ" "DEPLOYEX_ERLANG_COOKIE=aws-cookie" "the store's cookie reached deployexd"
assert_contains "$environ" "DEPLOYEX_SECRETS_ADAPTER=env" "deployexd reads it as the env adapter"
assert_not_contains "$(tr '\0' ' ' <"/proc/$DAEMON_PID/cmdline")" "aws-cookie" "the cookie on deployexd's command line"
# The daemon made the missing overrides directory, 0750, and its missing parent
# as a configuration directory others pass through to read deployex.json (0755).
wait_for 10 "[ -d '$T/etc/deployex/overrides.d' ]" "the overrides directory"
assert_eq "755 750" "$(stat -c %a "$T/etc/deployex") $(stat -c %a "$T/etc/deployex/overrides.d")" \
        "the modes of the overrides directory and its parent"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"; rc=$?
assert_eq "0" "$rc" "the daemon's exit status after SIGTERM"
# A store that refuses: `deployex run` fails before the daemon starts, with the store's reason.
run 1 env DEPLOYEX_SECRETS_ADAPTER=aws DEPLOYEX_SECRETS_PATH=deployex/garbled \
        DEPLOYEX_SECRETS_ENDPOINT=http://127.0.0.1:$AWS "$DEPLOYEX" -c "$T/deployex.json" run
assert_contains "$ERR" "deployex/garbled" "the refused secret is named"
assert_not_contains "$ERR" "TOPSECRET" "the secret's value in the error"
finish
