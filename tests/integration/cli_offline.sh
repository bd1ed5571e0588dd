# The offline CLI against a real file:// bucket and real state files, no daemon.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"

write_config 3

# DESIGN §3: "origin" is "source" | "override" even before anything is published (the reason
# is in "error"), and the daemon always has "pid" (null while it is down).
run 0 dx status --json
assert_eq "source null" "$(jqr "$OUT" '"\(.apps[0].desired.origin) \(.apps[0].desired.version)"')" \
        "nothing published: origin source, no version"
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "not published yet" "nothing published: the error"
assert_eq "true null" "$(jqr "$OUT" '"\(.daemon | has("pid")) \(.daemon.pid)"')" "daemon down: pid null"

publish 1.0.0 ', "hash": "abc123"'

# check: a valid setup passes; the acceptance case -1 names the field.
run 0 dx check
assert_contains "$OUT" "current.json publishes 1.0.0" "check reads current.json"
sed 's/"replicas": 3/"replicas": -1/' "$T/deployex.json" >"$T/bad.json"
run 1 "$DEPLOYEX" -c "$T/bad.json" check
assert_contains "$ERR" "apps[0].replicas" "check names the field"
assert_contains "$ERR" "$T/bad.json" "check names the file"
printf '{"source": ' >"$T/torn.json"
run 1 "$DEPLOYEX" -c "$T/torn.json" check
assert_contains "$ERR" "$T/torn.json" "a torn config is named"
run 1 "$DEPLOYEX" -c "$T/missing.json" status
assert_contains "$ERR" "$T/missing.json" "a missing config is named"
# -c is a global option (DESIGN §3): after the command too; free-text commands keep theirs.
run 0 "$DEPLOYEX" check -c "$T/deployex.json"
assert_contains "$OUT" "current.json publishes 1.0.0" "check -c FILE after the command"
run 0 "$DEPLOYEX" status --json -c "$T/deployex.json"
assert_eq "1.0.0" "$(jqr "$OUT" '.apps[0].desired.version')" "status --json -c FILE"
run 1 "$DEPLOYEX" -c "$T/deployex.json" status -c "$T/missing.json"
assert_contains "$ERR" "$T/missing.json" "the last -c wins"

# plan: first deploy of 1.0.0 starts with instance 1, the others wait for it.
run 0 dx plan --json
assert_eq "deploy-full" "$(jqr "$OUT" '.apps[0].steps[] | select(.instance == 1) | .action')" "plan action for instance 1"
assert_eq "1.0.0" "$(jqr "$OUT" '.apps[0].steps[] | select(.instance == 1) | .to')" "plan target for instance 1"
assert_eq "true" "$(jqr "$OUT" '.apps[0].steps[] | select(.instance == 1) | .runnable')" "instance 1 runs first"
assert_eq "false" "$(jqr "$OUT" '[.apps[0].steps[] | select(.instance == 2) | .runnable][0]')" "instance 2 waits"
run 0 dx plan
assert_contains "$OUT" "myapp/1  deploy-full  none -> 1.0.0  (" "plan text form"
run 0 dx plan myapp
run 1 dx plan nosuchapp
assert_contains "$ERR" "unknown app 'nosuchapp'" "plan names the unknown app"
run 2 dx plan --bogus

# status with no daemon.
run 0 dx status --json
assert_eq "false" "$(jqr "$OUT" '.daemon.running')" "daemon not running"
assert_eq "1.0.0" "$(jqr "$OUT" '.apps[0].desired.version')" "desired version from the bucket"
assert_eq "source" "$(jqr "$OUT" '.apps[0].desired.origin')" "desired origin"
assert_eq "abc123" "$(jqr "$OUT" '.apps[0].desired.hash')" "desired hash"
assert_eq "3" "$(jqr "$OUT" '.apps[0].instances | length')" "three instances listed"
assert_eq "47101" "$(jqr "$OUT" '.apps[0].instances[1].ports.PORT')" "instance 2 port = base + 1"
assert_eq "stopped" "$(jqr "$OUT" '.apps[0].instances[0].state')" "never-deployed instance is stopped"
assert_contains "$(jqr "$OUT" '.apps[0].instances[0].node')" "myapp-1@" "node name"
assert_not_contains "$OUT" "secret-cookie" "the cookie never appears in status"
run 0 dx status
assert_contains "$(printf '%s\n' "$OUT" | head -1)" "daemon not running" "status text: the header line"

# A malformed current.json is reported; nothing else breaks.
printf '{"version": "1 0"}' >"$T/bucket/versions/myapp/prod/current.json"
run 0 dx status --json
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "version" "status names the bad field"
run 1 dx check
assert_contains "$ERR" "current.json: version" "check names current.json and the field"
publish 1.0.0

# pin / unpin / pause / resume / restart write the override atomically.
# 0.9.0 is not published: pin checks that (tests/integration/cli_pin.sh); --force writes it.
run 0 dx pin --force myapp 0.9.0
assert_eq "0.9.0" "$(jq -r .version "$T/overrides/myapp.json")" "pin written"
run 0 dx status --json
assert_eq "override" "$(jqr "$OUT" '.apps[0].desired.origin')" "pin takes over"
assert_eq "0.9.0" "$(jqr "$OUT" '.apps[0].desired.version')" "pinned version"
run 0 dx pause myapp
assert_eq "0.9.0" "$(jq -r .version "$T/overrides/myapp.json")" "pause keeps the pin"
assert_eq "true" "$(jq -r .paused "$T/overrides/myapp.json")" "paused written"
run 0 dx plan --json
assert_eq "0" "$(jqr "$OUT" '[.apps[0].steps[] | select(.runnable)] | length')" "paused: nothing runnable"
assert_contains "$(jqr "$OUT" '.apps[0].steps[0].reason')" "paused" "paused reason"
run 0 dx resume myapp
assert_eq "false" "$(jq -r ".paused // false" "$T/overrides/myapp.json")" "resumed"
run 0 dx unpin myapp
assert_eq "null" "$(jq -r .version "$T/overrides/myapp.json")" "unpinned"
run 0 dx restart myapp
token=$(jq -r .restart "$T/overrides/myapp.json")
[ -n "$token" ] && [ "$token" != null ] || fail "restart wrote no token"
run 0 dx restart myapp
[ "$(jq -r .restart "$T/overrides/myapp.json")" != "$token" ] || fail "a second restart must write a new token"
run 0 dx restart myapp 2
assert_eq "string" "$(jq -r '.restart_instances["2"] | type' "$T/overrides/myapp.json")" "instance restart token"
run 1 dx restart myapp 4
assert_contains "$ERR" "no instance 4" "restart beyond replicas"
run 2 dx restart myapp zero
run 2 dx pin myapp
run 2 dx pin myapp 1.0.0 extra
run 1 dx pin myapp "bad version"
run 1 dx pin nosuch 1.0.0
assert_contains "$ERR" "unknown app 'nosuch'" "pin names the unknown app"
run 2 dx unpin
run 2 dx pause
run 2 dx nosuchcommand

# A malformed override is reported and refused by writers.
printf '{"pasued": true}' >"$T/overrides/myapp.json"
run 0 dx status --json
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "pasued" "status names the unknown override key"
run 1 dx check
assert_contains "$ERR" "myapp.json" "check names the override file"
run 1 dx pause myapp
assert_contains "$ERR" "fix or remove" "writers refuse to overwrite a malformed override"
rm "$T/overrides/myapp.json"

# ghosts (the daemon's file) and unghost; a ghosted desired version deploys nothing.
mkdir -p "$T/var/state/myapp"
cat >"$T/var/state/myapp/ghosts.json" <<JSON
[{"version": "1.0.0", "hash": "abc123", "at": "2026-11-26T05:00:00Z", "reason": "instance 1 not ready"}]
JSON
run 0 dx ghosts --json myapp
assert_eq "1.0.0" "$(jqr "$OUT" '.[0].version')" "ghosts lists the version"
run 0 dx ghosts myapp
assert_contains "$OUT" "instance 1 not ready" "ghosts text shows the reason"
assert_eq "VERSION AT REASON" "$(printf '%s\n' "$OUT" | head -1 | tr -s ' ')" "ghosts text: the header line"
run 0 dx plan --json
assert_eq "0" "$(jqr "$OUT" '[.apps[0].steps[] | select(.action == "deploy-full")] | length')" "ghosted desired: no deploy"
run 0 dx status --json
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "ghosted" "status says the desired version is ghosted"
assert_eq "1.0.0" "$(jqr "$OUT" '.apps[0].ghosts[0]')" "status lists ghosts"
run 1 dx pin myapp 1.0.0
assert_contains "$ERR" "ghosted" "pin to a ghosted version is refused, with the reason"
run 0 dx pin --force myapp 1.0.0
run 0 dx status --json
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "pinned version 1.0.0 is ghosted" "pin to a ghost is refused in status"
run 1 dx unghost myapp 2.0.0
assert_contains "$ERR" "not ghosted" "unghost of an unknown version"
run 0 dx unghost myapp 1.0.0
assert_eq "0" "$(jq length "$T/var/state/myapp/ghosts.json")" "unghosted"
run 0 dx plan --json
assert_eq "deploy-full" "$(jqr "$OUT" '.apps[0].steps[0].action')" "deploys again after unghost"
run 0 dx unghost myapp --all
run 2 dx unghost myapp

# history: oldest first, a torn last line skipped.
cat >"$T/var/state/myapp/history.jsonl" <<'JSONL'
{"at": "2026-11-26T05:00:00Z", "app": "myapp", "instance": 1, "kind": "full", "from": null, "version": "1.0.0", "hash": "abc", "result": "ok", "reason": null}
{"at": "2026-11-26T05:01:00Z", "app": "myapp", "instance": 1, "kind": "rollback", "from": "1.0.1", "version": "1.0.0", "hash": null, "result": "ok", "reason": "1.0.1 not ready"}
{"at": "2026-11-26T05:02:00Z", "app": "myapp", "inst
JSONL
run 0 dx history --json myapp
assert_eq "2" "$(jqr "$OUT" 'length')" "two good events"
assert_eq "rollback" "$(jqr "$OUT" '.[1].kind')" "oldest first"
assert_contains "$ERR" "skipped 1 malformed line" "the torn line is reported"
run 0 dx history myapp
assert_contains "$OUT" "rollback 1.0.1 -> 1.0.0" "history text"
run 0 dx history
assert_contains "$OUT" "myapp/1" "history without APP lists every app"

# hash-password: bcrypt $2b$ that libcrypt verifies.
hash=$(printf 'hunter2\n' | dx hash-password) || fail "hash-password failed"
case "$hash" in '$2b$12$'*) ok ;; *) fail "hash-password printed '$hash'" ;; esac
[ "$(perl -e 'print crypt($ARGV[0], $ARGV[1])' hunter2 "$hash")" = "$hash" ] || fail "the hash does not verify"
ok
run 1 sh -c "printf '' | '$DEPLOYEX' hash-password"

# rollout is a reader too: with no daemon ever run it shows what the bucket publishes now.
publish 1.0.2
jq --arg t "$T" '.fleet = {"host": "web-1"} | .overrides_path = "\($t)/ov-fleet" | .var_path = "\($t)/var-fleet"' \
        "$T/deployex.json" >"$T/fleet.json"
mkdir -p "$T/ov-fleet" "$T/var-fleet"
run 0 "$DEPLOYEX" -c "$T/fleet.json" rollout --json myapp
assert_eq "1.0.2 web-1 -1 0" "$(jqr "$OUT" '"\(.version) \(.host) \(.mine) \(.slots | length)"')" \
        "rollout without a daemon: the published version, no slot yet"
rm "$T/bucket/versions/myapp/prod/current.json"
run 1 "$DEPLOYEX" -c "$T/fleet.json" rollout myapp
assert_contains "$ERR" "nothing published yet" "rollout with nothing published"

# --help on every command; version.
for c in run check plan status history ghosts pin unpin pause resume restart unghost logs remote hook hash-password version; do
        run 0 "$DEPLOYEX" "$c" --help
        assert_contains "$OUT" "usage: deployex" "$c --help"
done
run 0 "$DEPLOYEX" --help
run 2 "$DEPLOYEX"
run 0 "$DEPLOYEX" version
assert_contains "$OUT" "deployex " "version"
run 0 "$DEPLOYEX" version --json
assert_eq "$(jqr "$OUT" .version)" "$(dx status --json | jq -r .daemon.version)" "version --json"
run 2 "$DEPLOYEX" version --bogus

# make install: the installed binary finds its default hooks beside it.
mode=$(basename "$(dirname "$DEPLOYEX")")
run 0 make -s -C "$DEPLOYEX_TOP" MODE="$mode" install PREFIX=/usr DESTDIR="$T/root"
for f in bin/deployex lib/deployex/deployex-cli lib/deployex/deployexd lib/deployex/deployex-log lib/deployex/deployex-hook lib/deployex/deployex-unpack share/deployex/hooks/common.lua share/deployex/hooks/elixir.lua share/deployex/hooks/erlang.lua \
         share/deployex/hooks/gleam.lua share/doc/deployex/README.md; do
        [ -f "$T/root/usr/$f" ] || fail "make install did not install $f"
done
ok
run 0 env -u DEPLOYEX_HOOKS_PATH "$T/root/usr/bin/deployex" -c "$T/deployex.json" check
assert_contains "$OUT" "ok" "the installed binary checks the hooks it installed"
# The installed hook runner (lib/deployex/deployex-hook) finds them too: the daemon's hook
# jobs run there.  upgrade_kind answers without a node.
run 0 env -u DEPLOYEX_HOOKS_PATH "$T/root/usr/lib/deployex/deployex-hook" --cli "$T/root/usr/lib/deployex/deployex-cli" \
        -c "$T/deployex.json" __hook myapp 1 upgrade_kind

# The installed `deployex run` (the front execs lib/deployex/deployex-cli, the full program)
# becomes lib/deployex/deployexd (same pid), which runs lib/deployex/deployex-cli for its
# jobs; without deployexd it says what is missing.
mkdir -p "$T/ibucket"
printf '{"env": "prod", "source": "file://%s/ibucket", "var_path": "%s/ivar", "log_path": "%s/ilog",
         "overrides_path": "%s/ioverrides", "cookie": "c1", "apps": []}\n' \
        "$T" "$T" "$T" "$T" >"$T/installed.json"
setsid "$T/root/usr/bin/deployex" -c "$T/installed.json" run >"$T/installed.log" 2>&1 &
ipid=$!
KILL_GROUPS="${KILL_GROUPS:-} $ipid"
wait_for 10 "[ -s '$T/ivar/run/deployex.pid' ]" "the installed daemon to start"
assert_eq "$ipid" "$(cat "$T/ivar/run/deployex.pid")" "the installed daemon keeps the pid of 'deployex run'"
assert_eq "$T/root/usr/lib/deployex/deployexd" "$(readlink "/proc/$ipid/exe")" "the installed daemon is deployexd"
assert_contains "$(tr '\0' ' ' <"/proc/$ipid/cmdline")" "--cli $T/root/usr/lib/deployex/deployex-cli " \
        "its jobs run the full program"
kill -TERM "$ipid"
wait "$ipid"; rc=$?
assert_eq "0" "$rc" "the installed daemon's exit status after SIGTERM"
rm "$T/root/usr/lib/deployex/deployexd"
run 1 "$T/root/usr/bin/deployex" -c "$T/installed.json" run
assert_contains "$ERR" "no executable deployexd beside $T/root/usr/lib/deployex/deployex-cli nor in its ../lib/deployex/" \
        "deployex run without deployexd"
# Without the full program the installed front still runs the readers, and names what is
# missing for the rest.
rm "$T/root/usr/lib/deployex/deployex-cli"
run 0 "$T/root/usr/bin/deployex" -c "$T/installed.json" status --json
assert_eq "false" "$(jqr "$OUT" .daemon.running)" "the installed front's status without deployex-cli"
run 1 "$T/root/usr/bin/deployex" -c "$T/installed.json" check
assert_eq "deployex: the full program is missing: neither $T/root/usr/bin/deployex-cli nor $T/root/usr/lib/deployex/deployex-cli is an executable file; reinstall deployex (the package, or make install)" \
        "$ERR" "the installed front without deployex-cli"
finish
