# The everyday CLI: check --json and its warning for a missing file://
# bucket, JSON errors that name the real problem, hash-password on a real
# terminal (no echo, asked twice), history across apps with -n and --since.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
write_config 1
publish 1.0.0

# check --json: the verdict, the problems, the warnings, what each app publishes.
run 0 dx check --json
assert_eq "true|1.0.0|0" "$(jqr "$OUT" '"\(.ok)|\(.apps[0].published)|\(.warnings | length)"')" "check --json"
run 0 dx check --offline --json
assert_eq "null" "$(jqr "$OUT" '.apps[0].published')" "--offline reads no bucket"
sed "s|file://$T/bucket|file://$T/buckett|" "$T/deployex.json" >"$T/typo.json"
run 0 "$DEPLOYEX" -c "$T/typo.json" check
assert_contains "$ERR" "warning: $T/typo.json: source: '$T/buckett' does not exist" "a mistyped bucket is warned about"
assert_contains "$OUT" "ok (1 app, 1 warning)" "a warning does not fail check"
run 0 "$DEPLOYEX" -c "$T/typo.json" check --json
assert_contains "$(jqr "$OUT" '.warnings[0]')" "does not exist" "the warning in --json"
run 1 "$DEPLOYEX" -c "$T/none.json" check --json
assert_eq "false" "$(jqr "$OUT" .ok)" "an unreadable config is a problem in --json too"
run 2 dx check --bogus

# JSON errors name the real problem.
printf '{"env": "prod",\n "source": "file:///x",\n}\n' >"$T/comma.json"
run 1 "$DEPLOYEX" -c "$T/comma.json" check
assert_contains "$ERR" "$T/comma.json: trailing comma before '}' (JSON allows none: remove it) at line 3, column 1" "trailing comma"
publish 1.0.0 && printf '{"version": 1}\n' >"$T/bucket/versions/myapp/prod/current.json"
run 1 dx check
assert_contains "$ERR" "current.json: version: must be a string (quote it: \"1.0.0\"), got 1" "a number for a version"
publish 1.0.0

# hash-password on a terminal: asked twice, never echoed; a mismatch prints nothing.
TTY="python3 $DEPLOYEX_TOP/tests/integration/tty_run.py"
out=$($TTY 'tty-s3cret' 'tty-s3cret' -- "$DEPLOYEX" hash-password) || fail "hash-password on a tty: $out"
ok
assert_not_contains "$out" "tty-s3cret" "the password is not echoed"
assert_contains "$out" "password again: " "asked twice"
hash=$(printf '%s\n' "$out" | grep '^\$2b\$12\$') || fail "no hash in: $out"
[ "$(perl -e 'print crypt($ARGV[0], $ARGV[1])' tty-s3cret "$hash")" = "$hash" ] || fail "the hash does not verify"
ok
out=$($TTY 'one-pw' 'other-pw' -- "$DEPLOYEX" hash-password) && fail "a mismatch must fail"
assert_contains "$out" "the passwords differ; nothing printed" "mismatch"
assert_not_contains "$out" '$2b$' "no hash after a mismatch"
hash=$(printf 'piped-pw\n' | "$DEPLOYEX" hash-password 2>"$T/hp.err") || fail "piped hash-password"
assert_eq "" "$(cat "$T/hp.err")" "no prompt when piped"

# history: every app merged by time, -n, --since (a time or a duration).
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "secret-cookie",
 "apps": [{"name": "myapp", "language": "erlang", "user": "root", "replicas": 1, "ports": {"PORT": 47100}},
          {"name": "other", "language": "erlang", "user": "root", "replicas": 1, "ports": {"PORT": 47110}}]}
JSON
mkdir -p "$T/var/state/myapp" "$T/var/state/other"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$T/var/state/myapp/history.jsonl" <<JSONL
{"at": "2026-01-01T00:00:00Z", "app": "myapp", "instance": 1, "kind": "full", "from": null, "version": "1.0.0", "hash": null, "result": "ok", "reason": null}
{"at": "2026-01-01T00:02:00Z", "app": "myapp", "instance": 1, "kind": "full", "from": "1.0.0", "version": "1.0.1", "hash": null, "result": "ok", "reason": null}
{"at": "$now", "app": "myapp", "instance": 1, "kind": "rollback", "from": "1.0.1", "version": "1.0.0", "hash": null, "result": "ok", "reason": "not ready"}
JSONL
cat >"$T/var/state/other/history.jsonl" <<JSONL
{"at": "2026-01-01T00:01:00Z", "app": "other", "instance": 1, "kind": "full", "from": null, "version": "2.0.0", "hash": null, "result": "failed", "reason": "boom"}
JSONL
run 0 dx history --json
assert_eq "myapp/1.0.0 other/2.0.0 myapp/1.0.1 myapp/1.0.0" "$(jqr "$OUT" '[.[] | "\(.app)/\(.version)"] | join(" ")')" "every app, by time"
run 0 dx history
assert_contains "$(printf '%s\n' "$OUT" | head -1)" "TIME" "a header line"
assert_contains "$OUT" "other/1       full     none -> 2.0.0" "text line"
run 0 dx history --json -n 2
assert_eq "1.0.1 1.0.0" "$(jqr "$OUT" '[.[].version] | join(" ")')" "-n 2: the last two"
run 0 dx history --json --since 2026-01-01T00:01:00Z other
assert_eq "2.0.0" "$(jqr "$OUT" '[.[].version] | join(" ")')" "--since a time, one app"
# RFC 3339 with a numeric offset (date -Iseconds): the same instant as ...00:01:00Z.
run 0 dx history --json --since 2026-01-01T02:01:00+02:00 other
assert_eq "2.0.0" "$(jqr "$OUT" '[.[].version] | join(" ")')" "--since a time with +02:00"
run 0 dx history --json --since 2026-01-01T02:01:01+02:00 other
assert_eq "" "$(jqr "$OUT" '[.[].version] | join(" ")')" "--since one second later with +02:00"
run 0 dx history --json --since 2025-12-31T19:01:00-05:00 other
assert_eq "2.0.0" "$(jqr "$OUT" '[.[].version] | join(" ")')" "--since a time with -05:00"
run 2 dx history --since 2026-01-01T02:01:00+2:00
run 0 dx history --json --since 1h
assert_eq "rollback" "$(jqr "$OUT" '[.[].kind] | join(" ")')" "--since a duration"
run 0 dx history --since 1h other
assert_contains "$OUT" "other: no deployment events in that time" "nothing in that time"
run 2 dx history --since yesterday
assert_contains "$ERR" "neither a time" "a bad --since"
run 2 dx history -n 0
finish
