#!/bin/sh
# Permissions (DESIGN §8): the daemon refuses and logs an override whose
# type, owner or mode does not fit (never silently); CLI writers write 0640
# and say why when they cannot; a reader that cannot read the state says so
# and exits 1 instead of reporting "daemon not running"; a member of the
# state's group reads it.  Needs root (CI runs as root) to act as other users.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"

[ "$(id -u)" = 0 ] || { echo "skip: needs root to run commands as other users"; exit 77; }
command -v setpriv >/dev/null || fail "setpriv (util-linux) is missing"
# Another user must reach the binary and the configuration.
chmod 755 "$T"
for d in "$DEPLOYEX_TOP" "$(dirname "$DEPLOYEX")"; do
        setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$DEPLOYEX" ||
                { echo "skip: user nobody cannot execute $DEPLOYEX ($d)"; exit 77; }
done
OPS=47901 # the operators' group: any gid will do, as a gid in the state's setgid directories
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_operator() { setpriv --reuid=65534 --regid=65534 --groups=$OPS "$@"; }

write_config 1 # nothing is published: it never starts
chmod 644 "$T/deployex.json"
# The state as the package makes it: setgid directories of the operators' group.
chgrp $OPS "$T/var" "$T/log" && chmod 2750 "$T/var" "$T/log"
chmod 0750 "$T/overrides"
start_daemon
wait_for 10 "grep -q 'running: 1 apps' '$T/daemon.log'" "the daemon to run"

# --- the daemon refuses and logs overrides that do not fit ---
ov="$T/overrides/myapp.json"
# put_override MODE OWNER TEXT: the file appears whole, with its mode and owner.
put_override() {
        printf '%s\n' "$3" >"$ov.new" && chmod "$1" "$ov.new" && chown "$2" "$ov.new" && mv "$ov.new" "$ov"
}
put_override 0666 0:0 '{"paused": true}'
wait_for 10 "grep -q \"app=myapp: .*$ov: refused: writable by every user (mode 0666)\" '$T/daemon.log'" \
        "the daemon to log the world-writable override"
run 0 dx status --json
assert_eq "false" "$(jqr "$OUT" '.apps[0].paused')" "a refused override is not in force"
assert_contains "$(jqr "$OUT" '.apps[0].desired.error')" "refused: writable by every user" "status shows why"

put_override 0640 47902:47903 '{"paused": true}'
wait_for 10 "grep -q 'refused: belongs to uid 47902 and gid 47903, neither root nor group deployex' '$T/daemon.log'" \
        "the daemon to log the foreign owner"
chown 0:0 "$ov"
wait_for 10 "[ \"\$(st | jq -r '.apps[0].paused')\" = true ]" "the fixed override to apply"
assert_not_contains "$(jqr "$(st)" '.apps[0].desired.error // empty')" "refused" "no refusal once fixed"

rm "$ov"; ln -s /etc/passwd "$ov"
wait_for 10 "grep -q \"$ov: refused: is a symlink\" '$T/daemon.log'" "the daemon to log the symlink"
rm "$ov"; put_override 0640 0:0 '{"paused": tru' 
wait_for 10 "grep -Eq \"app=myapp: .*$ov: [^r]\" '$T/daemon.log'" "the daemon to log the malformed override"
rm "$ov"

# --- CLI writers: 0640, and a clear refusal ---
run 0 dx pause myapp
assert_eq "640" "$(stat -c %a "$ov")" "mode of the override pause wrote"
run 1 as_nobody "$DEPLOYEX" -c "$T/deployex.json" resume myapp
assert_contains "$ERR" "Permission denied; overrides are written by root" "a non-member's resume"

# --- readers ---
run 1 as_nobody "$DEPLOYEX" -c "$T/deployex.json" status
assert_eq "deployex status: cannot read $T/var/state: permission denied; are you in group deployex?" \
        "$ERR" "a non-member's status"
assert_not_contains "$OUT" "not running" "a non-member's status"
run 1 as_nobody "$DEPLOYEX" -c "$T/deployex.json" history myapp
assert_contains "$ERR" "are you in group deployex?" "a non-member's history"
mkdir -p "$T/log/myapp" && echo "a line" >"$T/log/myapp/myapp-1-stdout.log"
run 1 as_nobody "$DEPLOYEX" -c "$T/deployex.json" logs myapp 1
assert_eq "deployex logs: cannot read $T/log/myapp/myapp-1-stdout.log: permission denied; are you in group deployex?" \
        "$ERR" "a non-member's logs"
run 0 as_operator "$DEPLOYEX" -c "$T/deployex.json" logs myapp 1
assert_contains "$OUT" "a line" "a member's logs"
# A member of the state's group reads what the daemon wrote (0640 files, 2750 directories).
run 0 as_operator "$DEPLOYEX" -c "$T/deployex.json" status --json
assert_eq "true" "$(jqr "$OUT" '.daemon.running')" "a member's status sees the daemon"
assert_eq "true" "$(jqr "$OUT" '.apps[0].paused')" "a member's status sees the pause"
assert_eq "640" "$(stat -c %a "$T/var/run/deployex.pid")" "mode of the pid file"
assert_eq "$OPS" "$(stat -c %g "$T/var/run/deployex.pid")" "group of the pid file"
finish
