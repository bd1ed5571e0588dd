# s3:// end to end: s3rver behind a SigV4-verifying front, the IMDSv2 peer,
# the source + release_fetch through test_bucket_s3_peer, and the CLI
# (check, status --json) reading current.json from the bucket.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
. "$DEPLOYEX_TOP/tests/peers/peers.sh"

S3=48110 S3_BACKEND=48111 AWS=48112
start_peer aws aws --port $AWS --imds-creds ASIAIMDS:imdssecret:imdstoken
start_peer s3 s3 --port $S3 --backend-port $S3_BACKEND --dir "$T/s3data" --buckets releases \
        --keys "AKIDTEST:s3cretTEST,ASIAIMDS:imdssecret:imdstoken"

export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=s3cretTEST AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true HOME="$T"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE 2>/dev/null

# The source, the credential chain and the cache, against the peers.
mkdir -p "$T/c"
DEPLOYEX_TEST_S3_ENDPOINT=http://127.0.0.1:$S3 DEPLOYEX_TEST_S3_BACKEND=http://127.0.0.1:$S3_BACKEND \
DEPLOYEX_TEST_S3_LOG="$T/s3.log" DEPLOYEX_TEST_IMDS_ENDPOINT=http://127.0.0.1:$AWS \
DEPLOYEX_TEST_ROOT="$T/c" run_peer_test test_bucket_s3_peer
assert_contains "$(cat "$T/aws.log")" '"method":"PUT","path":"/latest/api/token"' "IMDSv2 token requested first"

# The CLI on the same var_path and bucket the daemon would use.
mkdir -p "$T/log" "$T/overrides"
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "s3://releases/team a", "aws_region": "us-east-1",
 "s3_endpoint": "http://127.0.0.1:$S3", "var_path": "$T/c/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "secret-cookie",
 "apps": [{"name": "myapp", "language": "erlang", "user": "root", "replicas": 2, "ports": {"PORT": 47300}}]}
JSON
curl -sf -X PUT -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --data-binary '{"version": "4.0.0", "hash": "cli"}' \
        "http://127.0.0.1:$S3_BACKEND/releases/team%20a/versions/myapp/prod/current.json" >/dev/null ||
        fail "cannot publish through s3rver"

run 0 dx check
assert_contains "$OUT" "current.json publishes 4.0.0" "check reads current.json from s3://"
run 0 dx status --json
assert_eq "4.0.0" "$(jqr "$OUT" '.apps[0].desired.version')" "status: desired version from s3://"
assert_eq "cli" "$(jqr "$OUT" '.apps[0].desired.hash')" "status: hash from s3://"
assert_eq "null" "$(jqr "$OUT" '.apps[0].desired.error')" "status: no error"

# Refused credentials: a clear error naming the object; the secret is not printed.
AWS_SECRET_ACCESS_KEY=wrong-secret-value run 0 dx status --json
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "HTTP 403 (SignatureDoesNotMatch" "status shows the refusal"
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "s3://releases/team a/versions/myapp/prod/current.json" "the error names the object"
assert_not_contains "$OUT$ERR" "wrong-secret-value" "the secret stays out of status"
AWS_SECRET_ACCESS_KEY=wrong-secret-value run 1 dx check
assert_contains "$ERR" "SignatureDoesNotMatch" "check reports refused credentials"

# Outage: the bucket is down; status says so and shows the last good version
# the daemon persisted (state/myapp/desired.json, written by the peer test).
stop_peer s3
run 0 dx status --json
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "GET http://127.0.0.1:$S3/releases/team%20a/versions/myapp/prod/current.json" "status shows the outage"
assert_eq "1.1.0" "$(jqr "$OUT" '.apps[0].desired.version')" "last good version kept during the outage"
run 1 dx check

# Recovery.
start_peer s3 s3 --port $S3 --backend-port $S3_BACKEND --dir "$T/s3data" --buckets releases \
        --keys "AKIDTEST:s3cretTEST"
run 0 dx status --json
assert_eq "4.0.0" "$(jqr "$OUT" '.apps[0].desired.version')" "back after the outage"
finish
