# deployex publish: a real release tarball published to file://, to s3://
# (behind the SigV4-verifying peer) and to gs:// (the OAuth2 + JSON API
# peer); the tarball lands before current.json, current.json carries
# version, hash, pre_commands and sha256, and the hosts' own readers (check,
# status) take it.  Bad tarballs and a changed tarball under a published
# version are refused with current.json untouched.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
. "$DEPLOYEX_TOP/tests/peers/peers.sh"

demo_config 1 47400
TB=$(demo_release 1.0.0)
SUM=$(sha256sum "$TB" | cut -d' ' -f1)
CUR="$T/bucket/versions/demo/prod/current.json"
rmdir "$T/bucket/dist/demo" "$T/bucket/versions/demo/prod" # publish creates them

run 0 dx publish --help
assert_contains "$OUT" "--pre-command CMD" "publish --help"
run 2 dx publish demo 1.0.0
assert_contains "$ERR" "expected APP VERSION TARBALL" "usage error"

# --- file:// ---
unset GITHUB_SHA 2>/dev/null
run 0 dx publish --pre-command 'eval demo:migrate()' --pre-command 'eval demo:seed()' --hash abc123 demo 1.0.0 "$TB"
assert_contains "$OUT" "uploaded" "publish says it uploaded"
cmp -s "$TB" "$T/bucket/dist/demo/demo-1.0.0.tar.gz" || fail "the tarball in the bucket differs"; ok
assert_eq "644" "$(stat -c %a "$T/bucket/dist/demo/demo-1.0.0.tar.gz")" "bucket objects are readable by the daemon"
assert_eq "1.0.0|abc123|$SUM|eval demo:migrate(),eval demo:seed()" \
        "$(jq -r '[.version, .hash, .sha256, (.pre_commands | join(","))] | join("|")' "$CUR")" "current.json"
run 0 dx check
assert_contains "$OUT" "current.json publishes 1.0.0" "check reads what publish wrote"

# The same bytes again (a re-run CI job): only current.json is rewritten; GITHUB_SHA is the hash.
GITHUB_SHA=0123456789abcdef run 0 dx publish demo 1.0.0 "$TB"
assert_contains "$OUT" "already published with these bytes" "same bytes accepted"
assert_eq "0123456789abcdef" "$(jq -r .hash "$CUR")" "hash from GITHUB_SHA"
assert_eq "null" "$(jq -r .pre_commands "$CUR")" "no pre-commands this time"

# Other bytes under the published version: refused, then replaced with --force.
mkdir -p "$T/repack" && tar -xzf "$TB" -C "$T/repack" && echo extra >"$T/repack/EXTRA"
(cd "$T/repack" && tar -czf "$T/other-1.0.0.tar.gz" .) || fail "repack"
before=$(sha256sum "$CUR")
run 1 dx publish demo 1.0.0 "$T/other-1.0.0.tar.gz"
assert_contains "$ERR" "already published with other bytes" "changed bytes refused"
assert_contains "$ERR" "--force" "the refusal names --force"
assert_eq "$before" "$(sha256sum "$CUR")" "current.json untouched after the refusal"
cmp -s "$TB" "$T/bucket/dist/demo/demo-1.0.0.tar.gz" || fail "the published tarball was replaced"; ok
run 0 dx publish --force demo 1.0.0 "$T/other-1.0.0.tar.gz"
assert_eq "$(sha256sum "$T/other-1.0.0.tar.gz" | cut -d' ' -f1)" "$(jq -r .sha256 "$CUR")" "--force replaced it"

# Bad tarballs: nothing uploaded, current.json untouched.
before=$(sha256sum "$CUR")
run 1 dx publish demo 2.0.0 "$TB"
assert_contains "$ERR" "no releases/2.0.0/ (the tarball holds releases/1.0.0/" "wrong version named"
python3 "$DEPLOYEX_TOP/tests/integration/hostile_tar.py" absolute "$T/hostile.tar.gz" "$T/escape" ||
        fail "hostile_tar.py"
run 1 dx publish demo 2.0.0 "$T/hostile.tar.gz"
assert_contains "$ERR" "refused, nothing uploaded" "hostile member refused"
[ ! -e "$T/escape" ] || fail "the hostile member escaped"; ok
mkdir -p "$T/nobin/releases/2.0.0" && (cd "$T/nobin" && tar -czf "$T/nobin.tar.gz" .)
run 1 dx publish demo 2.0.0 "$T/nobin.tar.gz"
assert_contains "$ERR" "no executable start script bin/demo" "missing start script named"
printf 'not a tarball' >"$T/junk.tar.gz"
run 1 dx publish demo 2.0.0 "$T/junk.tar.gz"
assert_contains "$ERR" "refused, nothing uploaded" "junk refused"
run 2 dx publish --pre-command 'a
b' demo 2.0.0 "$TB"
assert_contains "$ERR" "must not contain a newline" "a bad pre-command is refused before any upload"
run 1 dx publish nosuch 2.0.0 "$TB"
assert_contains "$ERR" "unknown app 'nosuch'" "unknown app"
assert_eq "$before" "$(sha256sum "$CUR")" "current.json untouched by every refusal"
[ ! -e "$T/bucket/dist/demo/demo-2.0.0.tar.gz" ] || fail "a refused tarball was uploaded"; ok

# --- s3:// behind the SigV4-verifying front ---
S3=48130 S3_BACKEND=48131
start_peer s3 s3 --port $S3 --backend-port $S3_BACKEND --dir "$T/s3data" --buckets releases \
        --keys "AKIDTEST:s3cretTEST"
export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=s3cretTEST AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true HOME="$T"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE 2>/dev/null
sed "s|\"source\": \"file://$T/bucket\"|\"source\": \"s3://releases/ci\", \"s3_endpoint\": \"http://127.0.0.1:$S3\"|" \
        "$T/deployex.json" >"$T/s3.json"
AWS_SECRET_ACCESS_KEY=wrong-secret run 1 "$DEPLOYEX" -c "$T/s3.json" publish demo 1.0.0 "$TB"
assert_contains "$ERR" "SignatureDoesNotMatch" "a bad secret is refused by the peer"
assert_not_contains "$ERR" "wrong-secret" "the secret stays out of the error"
run 0 "$DEPLOYEX" -c "$T/s3.json" publish --hash s3sha demo 1.0.0 "$TB"
assert_contains "$OUT" "s3://releases/ci/versions/demo/prod/current.json: publishes 1.0.0" "published to s3://"
puts=$(grep '"method":"PUT"' "$T/s3.log" | grep '"status":200' | jq -r .path | tr '\n' ' ')
assert_eq "/releases/ci/dist/demo/demo-1.0.0.tar.gz /releases/ci/versions/demo/prod/current.json " \
        "$puts" "tarball first, then current.json, each one signed PUT"
curl -sf "http://127.0.0.1:$S3_BACKEND/releases/ci/dist/demo/demo-1.0.0.tar.gz" -o "$T/s3copy.tar.gz" ||
        fail "cannot read the tarball back"
cmp -s "$TB" "$T/s3copy.tar.gz" || fail "the tarball on s3 differs"; ok
run 0 "$DEPLOYEX" -c "$T/s3.json" status --json
assert_eq "1.0.0|s3sha" "$(jqr "$OUT" '.apps[0].desired | "\(.version)|\(.hash)"')" "status reads it from s3://"
run 1 "$DEPLOYEX" -c "$T/s3.json" publish demo 1.0.0 "$T/other-1.0.0.tar.gz"
assert_contains "$ERR" "already published with other bytes" "s3: changed bytes refused"

# --- gs:// with a service account ---
GCP=48132
EMAIL=ci@test-project.iam.gserviceaccount.com
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sa.pem" 2>/dev/null || fail "openssl genpkey"
openssl pkey -in "$T/sa.pem" -pubout -out "$T/sa.pub" 2>/dev/null || fail "openssl pkey"
jq -n --arg k "$(cat "$T/sa.pem")" --arg e "$EMAIL" --arg u "http://127.0.0.1:$GCP/token" \
        '{type: "service_account", private_key_id: "k1", private_key: $k, client_email: $e, token_uri: $u}' \
        >"$T/sa.json"
chmod 600 "$T/sa.json"
mkdir -p "$T/objects"
start_peer gcp gcp --port $GCP --dir "$T/objects" --sa-pub "$T/sa.pub" --sa-email "$EMAIL"
sed "s|\"source\": \"file://$T/bucket\"|\"source\": \"gs://releases/ci\", \"gcs_endpoint\": \"http://127.0.0.1:$GCP\", \"gcp_credentials\": \"$T/sa.json\"|" \
        "$T/deployex.json" >"$T/gs.json"
run 0 "$DEPLOYEX" -c "$T/gs.json" publish --pre-command 'eval demo:migrate()' demo 1.0.0 "$TB"
assert_contains "$OUT" "gs://releases/ci/versions/demo/prod/current.json: publishes 1.0.0" "published to gs://"
cmp -s "$TB" "$T/objects/releases/ci/dist/demo/demo-1.0.0.tar.gz" || fail "the tarball on gs differs"; ok
assert_eq "$SUM" "$(jq -r .sha256 "$T/objects/releases/ci/versions/demo/prod/current.json")" "gs current.json sha256"
objs=$(grep '"method":"POST"' "$T/gcp.log" | jq -r 'select(.object) | .object' | tr '\n' ' ')
assert_eq "ci/dist/demo/demo-1.0.0.tar.gz ci/versions/demo/prod/current.json " "$objs" "gs: tarball first, then current.json"
run 0 "$DEPLOYEX" -c "$T/gs.json" status --json
assert_eq "1.0.0" "$(jqr "$OUT" '.apps[0].desired.version')" "status reads it from gs://"
run 1 "$DEPLOYEX" -c "$T/gs.json" publish demo 1.0.0 "$T/other-1.0.0.tar.gz"
assert_contains "$ERR" "already published with other bytes" "gs: changed bytes refused"
finish
