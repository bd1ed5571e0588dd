# Per-app users (DESIGN §4.1 user/group, §8; issue 12 item 3): with "user",
# every process of an instance runs as that user, the service tree, the
# cookie home and the TLS options file are its, the unpack and the hooks run
# as it; a hot upgrade, rpc, logs and remote keep working.  check refuses an
# app without user when run as root, except in environment mode (a warning).
# Needs root: it creates a system user.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
BASE=47840

[ "$(id -u)" = 0 ] || { echo "skip: needs root to create a user and run apps as it"; exit 77; }
command -v useradd >/dev/null || fail "no useradd (the passwd package)"
U=dxu$$
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U" ||
        fail "cannot create user $U"
trap 'cleanup; userdel "$U" 2>/dev/null' EXIT
UID_=$(id -u "$U"); GID_=$(id -g "$U")
# The user reaches its tree below $T (not the state: var/ gets o+x from the daemon).
chmod 755 "$T"
setpriv --reuid="$UID_" --regid="$GID_" --clear-groups test -x "$DEPLOYEX" ||
        { echo "skip: user $U cannot execute $DEPLOYEX"; exit 77; }

hot_pair erlang hotapp 1.0.0 1.0.1
hot_config hotapp erlang 2 $BASE
jq "del(.apps[0].user)" "$T/deployex.json" >"$T/nouser.json" && mv "$T/nouser.json" "$T/deployex.json"
# The pre-command appends to the mark as the app's user.
: >"$T/mark" && chown "$U" "$T/mark"

# --- check: required when root, "root" on purpose, unknown users, environment mode ---
run 1 dx check --offline
assert_contains "$ERR" "apps[0].user: required when deployex runs as root" "check without user"
jq '.apps[0].user = "root"' "$T/deployex.json" >"$T/root.json"
run 0 "$DEPLOYEX" -c "$T/root.json" check --offline
jq '.apps[0].user = "nosuchuser'$$'"' "$T/deployex.json" >"$T/nouser.json"
run 1 "$DEPLOYEX" -c "$T/nouser.json" check --offline
assert_contains "$ERR" "apps[0].user: no such user 'nosuchuser$$'" "check names the unknown user"
jq --arg u "$U" '.apps[0].user = $u | .apps[0].group = "nosuchgroup'$$'"' "$T/deployex.json" >"$T/nogroup.json"
run 1 "$DEPLOYEX" -c "$T/nogroup.json" check --offline
assert_contains "$ERR" "apps[0].group: no such group 'nosuchgroup$$'" "check names the unknown group"
jq '.apps[0].group = "root"' "$T/deployex.json" >"$T/grouponly.json"
run 1 "$DEPLOYEX" -c "$T/grouponly.json" check --offline
assert_contains "$ERR" "group is set but user is not" "group without user"
if [ ! -e /etc/deployex/deployex.json ]; then
        run 0 env -u DEPLOYEX_CONFIG DEPLOYEX_MONITORED_APP_NAME=envapp DEPLOYEX_MONITORED_APP_LANG=erlang \
                DEPLOYEX_RELEASE_BUCKET="$T/bucket" DEPLOYEX_RELEASE_ADAPTER=local \
                DEPLOYEX_ERLANG_COOKIE=env-cookie "$DEPLOYEX" check --offline
        assert_contains "$ERR" "warning: environment: app envapp runs as root" "environment mode warns"
fi
jq --arg u "$U" '.apps[0].user = $u' "$T/deployex.json" >"$T/user.json" && mv "$T/user.json" "$T/deployex.json"
run 0 dx check --offline
# A daemon that is not root cannot become another user: it says so and does not start.
if getent passwd nobody >/dev/null; then
        jq '.apps[0].user = "nobody"' "$T/deployex.json" >"$T/nobody.json" && chmod 644 "$T/nobody.json"
        run 1 setpriv --reuid="$UID_" --regid="$GID_" --clear-groups "$DEPLOYEX" -c "$T/nobody.json" run
        assert_contains "$ERR" "apps[0].user: deployex runs as uid $UID_, not root: it cannot run hotapp as 'nobody'" \
                "an unprivileged daemon refuses another user"
fi

# --- the daemon runs the app as its user ---
hot_publish hotapp 1.0.0
start_daemon
wait_for 40 "all_running 2 1.0.0" "2 replicas running 1.0.0"

# procs_of PID: the processes of an instance: its session and every descendant
# (erl_child_setup makes a session of its own).
procs_of() {
        ps -e -o pid=,ppid=,sid= | awk -v s="$1" '
                { pid[NR] = $1; ppid[NR] = $2; sid[NR] = $3 }
                END {
                        in_[s] = 1
                        for (changed = 1; changed;) {
                                changed = 0
                                for (i = 1; i <= NR; i++)
                                        if (!(pid[i] in in_) && (sid[i] == s || ppid[i] in in_)) {
                                                in_[pid[i]] = 1; changed = 1
                                        }
                        }
                        for (p in in_) print p
                }'
}
# foreign_in_session PID: "pid(comm):uids" of every process of the instance not all $UID_.
foreign_in_session() {
        for p in $(procs_of "$1"); do
                u=$(awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' "/proc/$p/status" 2>/dev/null) || continue
                [ -z "$u" ] || [ "$u" = "$UID_,$UID_,$UID_,$UID_" ] ||
                        echo "$p($(cat /proc/$p/comm 2>/dev/null)):$u"
        done
}
gid_of() { awk '/^Gid:/ {print $2 "," $3 "," $4 "," $5}' "/proc/$1/status"; }
for n in 1 2; do
        pid=$(inst_field $n pid)
        procs=$(for p in $(procs_of "$pid"); do cat "/proc/$p/comm"; done 2>/dev/null | sort -u | tr '\n' ' ')
        assert_contains "$procs" "beam.smp" "instance $n has its VM in its session"
        assert_contains "$procs" "erl_child_setup" "instance $n has its erl_child_setup"
        assert_eq "" "$(foreign_in_session "$pid")" "instance $n: every process runs as $U"
        assert_eq "$GID_,$GID_,$GID_,$GID_" "$(gid_of "$pid")" "instance $n: the group"
done

assert_eq "$U $U" "$(jqr "$(st)" '[.apps[0].instances[].user] | join(" ")')" "status: user per instance"

# The tree is the user's: the unpack ran as it, the start hook made the cookie home as it.
svc="$T/var/service/hotapp"
# service/hotapp stays root's (the user cannot swap an instance's directory under the daemon).
assert_eq "root 711" "$(stat -c '%U %a' "$svc")" "service/hotapp: root's, others pass through"
as_user() { setpriv --reuid="$UID_" --regid="$GID_" --clear-groups "$@"; }
as_user mv "$svc/2" "$svc/moved" 2>/dev/null && fail "the user could move an instance's directory"
ok
assert_eq "$U $U $U" "$(stat -c %U "$svc/1" "$svc/1/current" "$svc/1/current/releases" | tr '\n' ' ' | sed 's/ $//')" \
        "instance 1's tree belongs to the user"
assert_eq "" "$(find "$svc" -mindepth 1 ! -user "$U" | head -n 5)" "nothing in the service tree belongs to another user"
assert_eq "$U 400" "$(stat -c '%U %a' "$svc/1/home/.erlang.cookie")" "the cookie home's cookie: the user's, 0400"
assert_eq "root" "$(stat -c %U "$T/var/state")" "the state stays root's"
assert_eq "" "$(find "$T/var/state" -user "$U" | head -n 5)" "the user wrote nothing in the state"
# The user may read the tarball it unpacks, never rewrite it.
tarball=$(ls "$T/var/cache/hotapp/"*1.0.0*)
assert_eq "root $GID_ 640" "$(stat -c '%U %g %a' "$tarball")" "the cached tarball"

# `deployex hook` as root runs the hook as the app's user too (its cookie home is the user's).
run 0 dx hook hotapp 1 start
assert_contains "$OUT" "\"HOME\":\"$svc/1/home\"" "the start hook answered with the cookie home"
assert_eq "$U" "$(stat -c %U "$svc/1/home/.erlang.cookie")" "the cookie home is still the user's"

# --- rpc and logs ---
run 0 node_rpc 1 os getpid
assert_contains "$(cat "/proc/$(pgrep -s "$(inst_field 1 pid)" beam.smp | head -n 1)/status" | grep '^Uid:')" \
        "$UID_" "rpc reached the user's VM"
run 0 dx logs hotapp 1
[ -n "$OUT" ] || fail "logs shows instance 1's output"
ok

# --- a hot upgrade, with a pre-command, as the user ---
for i in 1 2; do hit $BASE >/dev/null; done
pid1=$(inst_field 1 pid); pid2=$(inst_field 2 pid)
hot_publish hotapp 1.0.1 '["eval hotapp_release:migrate()"]'
wait_for 40 "all_running 2 1.0.1" "both replicas on 1.0.1"
assert_eq "$pid1" "$(inst_field 1 pid)" "instance 1 kept its pid through the hot upgrade"
assert_eq "$pid2" "$(inst_field 2 pid)" "instance 2 kept its pid through the hot upgrade"
assert_eq "hotapp 1.0.1 hotapp-1@$(hostname -s) count=3 upgraded_from=1.0.0" "$(hit $BASE)" \
        "instance 1: new code, old state"
assert_eq "1" "$(grep -c 'migrated hotapp 1.0.1' "$T/mark")" "the pre-command ran (as the user: it wrote the mark)"
assert_eq "hot ok" "$(jqr "$(st)" '.apps[0].instances[0].last_deploy | "\(.kind) \(.result)"')" "status: hot"
assert_eq "" "$(find "$svc" -mindepth 1 ! -user "$U" | head -n 5)" "after the upgrade the tree is still the user's"
for n in 1 2; do
        assert_eq "" "$(foreign_in_session "$(inst_field $n pid)")" "instance $n after the upgrade: all $U"
done
assert_contains "$(cat "$T/log/hotapp/hotapp-1-stdout.log")" "exec: " "the pre-command's lines reach the log"

# --- a crash restart runs as the user too ---
vm1=$(pgrep -s "$pid1" beam.smp | head -n 1)
kill -KILL "$vm1"
wait_for 20 "[ \"\$(inst_field 1 crash_restarts)\" = 1 ] && [ \"\$(inst_field 1 state)\" = running ]" \
        "instance 1 restarted after its crash"
assert_eq "" "$(foreign_in_session "$(inst_field 1 pid)")" "the restarted instance: all $U"

# --- remote: a shell on the instance, as the user ---
rm -f "$T/in"; mkfifo "$T/in"
script -q -c "$DEPLOYEX -c $T/deployex.json remote hotapp 1" /dev/null <"$T/in" >"$T/remote.out" 2>&1 &
shell_pid=$!
exec 5>"$T/in"
wait_for 30 "grep -q '(hotapp-1@' '$T/remote.out'" "the remote shell prompt"
printf '%s\n' 'io:format("remote-node=~p~n",[node()]).' >&5
wait_for 10 "grep -q \"remote-node='hotapp-1@\" '$T/remote.out'" "the remote command to run"
printf '\007' >&5; sleep 0.3; printf 'q\n' >&5
wait_for 10 "! kill -0 $shell_pid" "the remote shell to end"
exec 5>&-
assert_eq "" "$(find "$svc" -mindepth 1 ! -user "$U" | head -n 5)" "remote left nothing of root's in the tree"

# --- the TLS options file is the user's, 0600 (issue 14) ---
"$DEPLOYEX" tls-init "$T/tls" >/dev/null || fail "tls-init"
jq --arg d "$T/tls" '.tls = {"cert": "\($d)/node-cert.pem", "key": "\($d)/node-key.pem", "ca": "\($d)/ca-cert.pem"}' \
        "$T/deployex.json" >"$T/tls.json"
# check: the app's VMs read the certificate, key and CA as the app's user.
run 1 "$DEPLOYEX" -c "$T/tls.json" check --offline
assert_contains "$ERR" "tls.key: '$T/tls/node-key.pem' cannot be read by user $U (app hotapp)" \
        "check: a key the app's user cannot read"
chmod 711 "$T/tls" && chown "$U" "$T/tls/node-cert.pem" "$T/tls/node-key.pem" "$T/tls/ca-cert.pem"
run 0 "$DEPLOYEX" -c "$T/tls.json" check --offline
chmod 640 "$T/tls/node-key.pem" && chown "root:$GID_" "$T/tls/node-key.pem"
run 0 "$DEPLOYEX" -c "$T/tls.json" check --offline
chmod 644 "$T/tls/node-key.pem"
run 1 "$DEPLOYEX" -c "$T/tls.json" check --offline
assert_contains "$ERR" "can be read by other users (mode 0644)" "check: a world-readable key"
run 0 "$DEPLOYEX" -c "$T/tls.json" remote hotapp 1 --dry-run
f="$T/var/tls/hotapp.ssl_dist.conf"
assert_eq "$U 600" "$(stat -c '%U %a' "$f")" "the TLS options file: the user's, 0600"
setpriv --reuid="$UID_" --regid="$GID_" --clear-groups cat "$f" >/dev/null || fail "the user reads its options file"
ok
finish
