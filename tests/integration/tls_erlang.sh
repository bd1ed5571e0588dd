# Mutual-TLS distribution with a real Erlang release (relx `foreground`):
# tls-init's files, the instance started with -proto_dist inet_tls, status
# connected over TLS, rpc, a hot upgrade over TLS keeping the VM; a plain
# node with the right cookie, and nodes or a C node with a certificate of
# another CA, are refused; check reports an expired certificate.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47960
HOST=$(hostname -s)

run 0 "$DEPLOYEX" tls-init "$T/tls" --host "$HOST"
for f in ca-key ca-cert node-key node-cert; do
        assert_eq "600" "$(stat -c %a "$T/tls/$f.pem")" "tls-init: $f.pem is 0600"
done
run 1 "$DEPLOYEX" tls-init "$T/tls" --host "$HOST"
assert_contains "$ERR" "ca-key.pem' exists" "tls-init never overwrites"

hot_pair erlang tlsapp 1.0.0 1.0.1 tls
hot_config tlsapp erlang 1 $BASE
# with_tls CONFIG_IN CONFIG_OUT DIR: the config with tls pointing at DIR's node files.
with_tls() {
        jq --arg d "$3" '. + {tls: {cert: ($d + "/node-cert.pem"), key: ($d + "/node-key.pem"),
                                    ca: ($d + "/ca-cert.pem")}}' "$1" >"$2"
}
with_tls "$T/deployex.json" "$T/tls.json" "$T/tls" && mv "$T/tls.json" "$T/deployex.json"
add_http 47999
run 0 dx check
hot_publish tlsapp 1.0.0
DEPLOYEX_WEB_USER=- start_daemon
wait_for 40 "all_running 1 1.0.0" "1.0.0 running over TLS"
wait_for 20 "[ \"\$(inst_field 1 otp)\" = connected ]" "the probe connects over TLS"
assert_eq "true" "$(inst_field 1 tls)" "status: tls true"
# The hook runner links no OpenSSL: with tls set, the readiness job that talks
# to the node over TLS runs in the full program (docs/daemon.md PROGRAMS).
grep -q "job 'readiness tlsapp/1' started, pid [0-9]* (deployex-cli)" "$T/daemon.log" ||
        fail "the readiness job over TLS did not run in deployex-cli"
assert_eq "1.0.0" "$(inst_field 1 otp_release)" "status: the release the node runs"
assert_eq "1.0.0 tls" "$(dx status tlsapp | awk '$1 == 1 { print $6, $7 }')" "status text: over TLS (OTP column)"

# The options file: per app, 0600, both sides verify_peer + fail_if_no_peer_cert.
conf="$T/var/tls/tlsapp.ssl_dist.conf"
assert_eq "600" "$(stat -c %a "$conf")" "the options file is 0600"
assert_eq "2" "$(grep -c 'fail_if_no_peer_cert, true' "$conf")" "server and client insist on a certificate"
assert_eq "2" "$(grep -c 'verify, verify_peer' "$conf")" "server and client verify the peer"

# rpc over TLS; the node itself says it runs inet_tls with that file.
run 0 dx rpc tlsapp 1 erlang node
assert_eq "'tlsapp-1@$HOST'" "$OUT" "rpc over TLS"
run 0 dx rpc tlsapp 1 init get_argument proto_dist
assert_eq '{ok,[["inet_tls"]]}' "$OUT" "the instance runs inet_tls distribution"
run 0 dx eval tlsapp 1 '{node(), init:get_argument(proto_dist)}.'
assert_eq "{'tlsapp-1@$HOST',{ok,[[\"inet_tls\"]]}}" "$OUT" "deployex eval over TLS"

# The web UI's process list and shell over TLS distribution (its helper's
# __processes and `deployex remote` use the same tls settings).
WEB="http://127.0.0.1:47999"
wait_for 20 "curl -sf '$WEB/health'" "the web UI"
web_login
run 0 curl -s -b "$T/jar" "$WEB/api/apps/tlsapp/instances/1/processes"
assert_eq "tlsapp-1@$HOST" "$(jqr "$OUT" .node)" "the process list over TLS"
assert_eq true "$(jqr "$OUT" '.processes > 20')" "with the node's processes"
web_post /api/apps/tlsapp/instances/1/shell
SESSION="deployex_session=$(awk '$6 == "deployex_session" {print $7}' "$T/jar")"
run 0 python3 "$DEPLOYEX_TOP/tests/integration/ws_client.py" \
        "ws://127.0.0.1:47999/api/apps/tlsapp/instances/1/shell?ticket=$(jqr "$BODY" .ticket)" \
        --cookie "$SESSION" --origin "$WEB" --expect ')1> ' --send 'node().\n' --until "'tlsapp-1@$HOST'" --wait 60
assert_contains "$OUT" "'tlsapp-1@$HOST'" "the shell over TLS: node(). answers"

# A plain node with the right cookie is refused.
ping() { # OPTS...: net_adm:ping of the instance from a fresh node, pong or pang
        # (on a line of its own: the node's logger may report the refused handshake on stdout)
        erl -noshell -sname "probe$$" -setcookie "$HOT_COOKIE" "$@" -eval "
                io:format(\"~nping=~s~n\", [net_adm:ping('tlsapp-1@$HOST')]), halt()." 2>/dev/null |
                sed -n 's/^ping=//p'
}
assert_eq "pang" "$(ping)" "a plain node with the right cookie is refused"
assert_eq "pong" "$(ping -proto_dist inet_tls -ssl_dist_optfile "$conf")" "a TLS node of the CA is accepted"

# Another CA's node certificate: refused by the instance and by the C node.
run 0 "$DEPLOYEX" tls-init "$T/other" --host "$HOST"
sed "s|$T/tls/node-|$T/other/node-|g" "$conf" >"$T/other.conf"
assert_eq "pang" "$(ping -proto_dist inet_tls -ssl_dist_optfile "$T/other.conf")" \
        "an instance refuses a node certificate of another CA"
jq --arg d "$T/other" '.tls.ca = ($d + "/ca-cert.pem")' "$T/deployex.json" >"$T/other-ca.json"
run 1 "$DEPLOYEX" -c "$T/other-ca.json" rpc tlsapp 1 erlang node
assert_contains "$ERR" "TLS handshake: the node's certificate: self-signed certificate in certificate chain" \
        "the C node refuses a node certificate of another CA"
jq --arg d "$T/other" '.tls.cert = ($d + "/node-cert.pem") | .tls.key = ($d + "/node-key.pem")' \
        "$T/deployex.json" >"$T/other-cert.json"
run 1 "$DEPLOYEX" -c "$T/other-cert.json" rpc tlsapp 1 erlang node
assert_contains "$ERR" "the node refused our certificate" "the instance refuses the C node's other-CA certificate"

# A hot upgrade over TLS: the same VM, the state kept, the new code answering.
for i in 1 2; do hit $BASE >/dev/null; done
pid=$(inst_field 1 pid)
vm=$(pgrep -s "$pid" beam.smp | head -n 1)
hot_publish tlsapp 1.0.1
wait_for 40 "all_running 1 1.0.1" "1.0.1 running"
assert_eq "hot ok" "$(history_of tlsapp '.[-1] | "\(.kind) \(.result)"')" "history: hot ok over TLS"
assert_eq "$pid" "$(inst_field 1 pid)" "the upgrade kept the pid"
assert_eq "$vm" "$(pgrep -s "$pid" beam.smp | head -n 1)" "the upgrade kept the VM"
assert_eq "tlsapp 1.0.1 tlsapp-1@$HOST count=3 upgraded_from=1.0.0" "$(hit $BASE)" "new code, old state"
assert_contains "$(cat "$T/daemon.log")" "release_handler:install_release took" "release_handler ran over TLS"

# A release without ssl cannot boot with inet_tls: start says so instead of a boot crash.
cp -a "$(root_of tlsapp 1 current)" "$T/nossl"
rm -rf "$T/nossl"/lib/ssl-*
jq --arg r "$T/nossl" '.var_path = ($r + "-var")' "$T/deployex.json" >"$T/nossl.json"
mkdir -p "$T/nossl-var/service/tlsapp/1"
mv "$T/nossl" "$T/nossl-var/service/tlsapp/1/current"
run 1 "$DEPLOYEX" -c "$T/nossl.json" hook tlsapp 1 start
assert_contains "$ERR" "tls is configured but the release has no ssl application" "start refuses a release without ssl"
run 0 dx hook tlsapp 1 start
assert_eq "-proto_dist inet_tls -ssl_dist_optfile $T/var/tls/tlsapp.ssl_dist.conf" "$(jqr "$OUT" '.env.ERL_AFLAGS')" \
        "start: the instance gets the TLS flags through ERL_AFLAGS"

# A key deployex cannot read fails the calls that need it, not every hook (start, health).
jq '.tls.key = "/nonexistent/node-key.pem"' "$T/deployex.json" >"$T/nokey.json"
run 0 "$DEPLOYEX" -c "$T/nokey.json" hook tlsapp 1 start
run 1 "$DEPLOYEX" -c "$T/nokey.json" rpc tlsapp 1 erlang node
assert_contains "$ERR" "tls: cannot load the key '/nonexistent/node-key.pem': No such file or directory" \
        "rpc says which TLS file it cannot load, and why"

# The remote shell gets the same options file.
run 0 dx remote tlsapp 1 --dry-run
assert_contains "$(jqr "$OUT" '.argv | join(" ")')" "-proto_dist inet_tls -ssl_dist_optfile $conf" \
        "remote: erl -remsh speaks TLS"

# check: an expired node certificate of the right CA (openssl ca with dates in the past).
mkdir -p "$T/ca/new"
: >"$T/ca/index.txt"
cat >"$T/ca/ca.cnf" <<CNF
[ca]
default_ca = dx
[dx]
dir = $T/ca
database = $T/ca/index.txt
new_certs_dir = $T/ca/new
serial = $T/ca/serial
default_md = sha256
policy = any
copy_extensions = copy
[any]
commonName = supplied
CNF
echo 01 >"$T/ca/serial"
openssl req -new -key "$T/tls/node-key.pem" -subj "/CN=$HOST" -out "$T/ca/old.csr" 2>/dev/null
openssl ca -batch -config "$T/ca/ca.cnf" -cert "$T/tls/ca-cert.pem" -keyfile "$T/tls/ca-key.pem" \
        -startdate 20200101000000Z -enddate 20210101000000Z -in "$T/ca/old.csr" \
        -out "$T/ca/expired.pem" >/dev/null 2>&1 || fail "openssl ca cannot make the expired certificate"
jq --arg f "$T/ca/expired.pem" '.tls.cert = $f' "$T/deployex.json" >"$T/expired.json"
run 1 "$DEPLOYEX" -c "$T/expired.json" check
assert_contains "$ERR" "tls.cert: '$T/ca/expired.pem' expired on Jan  1 00:00:00 2021 GMT" "check: expired"
run 1 "$DEPLOYEX" -c "$T/other-ca.json" check
assert_contains "$ERR" "does not chain to the CA" "check: another CA"
run 0 "$DEPLOYEX" tls-init "$T/soon" --host "$HOST" --days 10
jq --arg d "$T/soon" '.tls = {cert: ($d + "/node-cert.pem"), key: ($d + "/node-key.pem"), ca: ($d + "/ca-cert.pem")}' \
        "$T/deployex.json" >"$T/soon.json"
run 0 "$DEPLOYEX" -c "$T/soon.json" check
assert_contains "$ERR" "warning: $T/soon.json: tls.cert: " "check: expiring within 30 days is a warning"
assert_contains "$ERR" "(in 10 days): renew it soon" "check: the days left"
finish
