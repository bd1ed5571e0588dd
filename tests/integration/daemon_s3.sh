# The daemon on an s3:// bucket (s3rver behind a SigV4-verifying front):
# publish -> rollout; unchanged polls are 304s and cost no parse; one download
# per version for every replica; the long-lived poller asks over one kept-alive
# connection and is restarted when it dies; an outage and refused credentials
# are reported while the last good version keeps running, also across a daemon
# restart.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
. "$DEPLOYEX_TOP/tests/peers/peers.sh"
epmd -daemon
S3=48140 S3_BACKEND=48141 BASE=47360
start_peer s3 s3 --port $S3 --backend-port $S3_BACKEND --dir "$T/s3data" --buckets releases \
        --keys "AKIDTEST:s3cretTEST"
export AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=s3cretTEST AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE 2>/dev/null

demo_config 2 $BASE
jq --arg ep "http://127.0.0.1:$S3" '.source = "s3://releases" | .s3_endpoint = $ep |
    .aws_region = "us-east-1" | .poll_interval_ms = 300' "$T/deployex.json" >"$T/c.json"
mv "$T/c.json" "$T/deployex.json"

put() { # KEY FILE
        curl -sf -X PUT -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --data-binary "@$2" \
                "http://127.0.0.1:$S3_BACKEND/releases/$1" >/dev/null || fail "cannot PUT $1"
}
s3_publish() { # VERSION
        tarball=$(demo_release "$1")
        put "dist/demo/demo-$1.tar.gz" "$tarball"
        printf '{"version": "%s", "sha256": "%s"}\n' "$1" "$(sha256sum "$tarball" | cut -d' ' -f1)" >"$T/cur.json"
        put "versions/demo/prod/current.json" "$T/cur.json"
}

s3_publish 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "a rollout from s3://"
assert_contains "$(answer $BASE)" "demo 1.0.0" "instance 1 answers"
tarball_gets() { grep -c '"method":"GET","path":"/releases/dist/demo/demo-'"$1"'.tar.gz"' "$T/s3.log"; }
assert_eq "1" "$(tarball_gets 1.0.0)" "one download of 1.0.0 for 2 replicas"

# Unchanged current.json: conditional GETs answered 304.  From here on only the
# poller asks (every `status` asks the bucket itself, from its own process).
l0=$(wc -l <"$T/s3.log")
n304() { tail -n +$((l0 + 1)) "$T/s3.log" | grep -c '"status":304'; }
wait_for 30 '[ $(n304) -ge 10 ]' "10 unchanged polls"
assert_contains "$(cat "$T/s3.log")" '"status":304' "unchanged polls are 304s"
n304=$(grep -c '"status":304' "$T/s3.log")
[ "$n304" -ge 3 ] || fail "expected several 304s, got $n304"
ok
# One long-lived poller, one TCP connection: every 304 came from one client port.
ports=$(tail -n +$((l0 + 1)) "$T/s3.log" | grep '"status":304' | jq -r .port | sort -u | wc -l)
assert_eq "1" "$ports" "$(n304) unchanged polls over one connection"
poller() { ps --ppid "$DAEMON_PID" -o pid=,args= | awk '/__poller/ { print $1 }'; }
p1=$(poller)
[ -n "$p1" ] || fail "no __poller child of the daemon: $(ps --ppid "$DAEMON_PID" -o pid=,args=)"
ok

# A killed poller is restarted (the reason logged) and polling goes on.
kill -KILL "$p1"
wait_for 10 "grep -q 'worker poller (pid $p1) killed by signal 9' '$T/daemon.log'" "the poller's death logged"
wait_for 10 '[ -n "$(poller)" ] && [ "$(poller)" != "$p1" ]' "a new poller"

# A reload restarts the poller only when what it reads changed.
p2=$(poller)
jq '.apps[0].healthy_after_ms = 900' "$T/deployex.json" >"$T/c.json" && mv "$T/c.json" "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 10 "grep -q 'configuration reloaded' '$T/daemon.log'" "the first reload"
jq '.poll_interval_ms = 250' "$T/deployex.json" >"$T/c.json" && mv "$T/c.json" "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 10 "grep -q 'worker poller: its settings changed; restarting it' '$T/daemon.log'" "the poller restarted by the reload"
wait_for 10 '[ -n "$(poller)" ] && [ "$(poller)" != "$p2" ]' "a poller for the new interval"
# The loop handles one reload after the other: one restart means the first edit caused none.
assert_eq "1" "$(grep -c 'worker poller: its settings changed' "$T/daemon.log")" \
        "only the reload that changed poll_interval_ms restarted the poller"

# A new version rolls out.
s3_publish 1.0.1
wait_for 60 "all_running 2 1.0.1" "1.0.1 from s3://"
assert_eq "1" "$(tarball_gets 1.0.1)" "one download of 1.0.1"
pids=$(st | jq -r '[.apps[0].instances[].pid] | map(tostring) | join(" ")')

# Outage: reported in status; what runs keeps running.
stop_peer s3
wait_for 10 "grep -q 'polling the source failed' '$T/daemon.log'" "the outage to be noticed"
run 0 dx status --json
assert_contains "$(jqr "$OUT" .apps[0].desired.error)" "current.json" "status reports the outage"
assert_eq "1.0.1" "$(jqr "$OUT" .apps[0].desired.version)" "last good desired version in force"
assert_eq "$pids" "$(st | jq -r '[.apps[0].instances[].pid] | map(tostring) | join(" ")')" "an outage touches nothing"
# The polls and the failed ones are counted for the metrics.
m=$(dx metrics)
polls=$(printf '%s\n' "$m" | awk '$1 == "deployex_source_polls_total{app=\"demo\"}" { print $2 }')
errors=$(printf '%s\n' "$m" | awk '$1 == "deployex_source_errors_total{app=\"demo\"}" { print $2 }')
last=$(printf '%s\n' "$m" | awk '$1 == "deployex_source_last_success_timestamp_seconds{app=\"demo\"}" { print $2 }')
[ "${errors:-0}" -ge 1 ] && [ "${polls:-0}" -gt "$errors" ] || fail "polls '$polls', errors '$errors'"; ok
[ "${last:-0}" -gt $(( $(date +%s) - 120 )) ] || fail "last success '$last'"; ok

# Refused credentials across a daemon restart: still 1.0.1, still running.
port_free() { ! bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
wait_for 10 "port_free $S3 && port_free $S3_BACKEND" "the old peer's ports to be free"
start_peer s3 s3 --port $S3 --backend-port $S3_BACKEND --dir "$T/s3data" --buckets releases \
        --keys "AKIDTEST:s3cretTEST"
kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID"
AWS_SECRET_ACCESS_KEY=wrong-secret start_daemon
wait_for 10 "grep -q 'SignatureDoesNotMatch' '$T/daemon.log'" "the refused credentials in the log"
sleep 1
assert_eq "$pids" "$(st | jq -r '[.apps[0].instances[].pid] | map(tostring) | join(" ")')" "refused credentials touch nothing"
assert_eq "1.0.1" "$(AWS_SECRET_ACCESS_KEY=wrong-secret dx status --json | jq -r .apps[0].desired.version)" "last good kept across a restart"
grep -q "wrong-secret" "$T/daemon.log" && fail "the secret leaked into the log"
ok
finish
