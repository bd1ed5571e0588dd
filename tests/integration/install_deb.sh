#!/bin/sh
# The Debian package, installed for real: build the .deb from this tree,
# check it as make deb does (lintian clean, hardening-check green, the
# unit's systemd-analyze exposure), dpkg -i it, start the daemon as
# deployex.service would (root, the unit's capability bounding set, umask and
# environment: there is no systemd here), deploy the demo app, use the CLI
# as root, as a member of group deployex and as an outsider, upgrade the
# package and replace the daemon the way postinst does (SIGQUIT, start) with
# the apps' pids unchanged, then stop and purge with nothing left running.
#
# It installs the package on this machine (CI's is a fresh one): it skips when
# a deployex package is already installed, and takes a machine-wide lock so
# that two runs never install at once.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"

skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "dpkg -i needs root (CI runs as root)"
for t in dpkg-buildpackage dh fakeroot setpriv git lintian hardening-check; do
        command -v $t >/dev/null || fail "$t is missing (scripts/install-deps installs the packaging tools)"
done
exec 9>/tmp/deployex-install-test.lock
flock -w 600 9 || fail "another install test holds /tmp/deployex-install-test.lock"
dpkg-query -W -f='${Status}' deployex 2>/dev/null | grep -q 'ok installed' &&
        skip "a deployex package is installed on this machine; not replacing it"

# What dpkg finds already there keeps its mode: a leftover /etc/deployex (an earlier run,
# a daemon started without overrides_path) would make this test check that instead.
[ -e /etc/deployex ] && fail "/etc/deployex exists before the package is installed" \
        "($(stat -c '%a %U:%G' /etc/deployex)); remove it, or find what made it"
UNIT=/lib/systemd/system/deployex.service
PORT=47960
# dpkg waits for nobody: retry while another dpkg or apt holds its lock.
dpkg_do() {
        n=0
        until dpkg --force-confold "$@" >"$T/dpkg.log" 2>&1; do
                grep -q 'lock' "$T/dpkg.log" && [ $n -lt 120 ] || fail "dpkg $*: $(cat "$T/dpkg.log")"
                n=$((n + 1)); sleep 0.5
        done
        ok
}
# gone PID: exited (a zombie of this shell counts: it is not reaped until the script ends).
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]; }
cleanup_daemon() {
        [ -n "${DAEMON_PID:-}" ] && kill -KILL "-$DAEMON_PID" 2>/dev/null
        for f in /var/lib/deployex/state/*/instances/*.json; do
                [ -f "$f" ] || continue
                pid=$(jq -r '.pid // 0' "$f")
                [ "$pid" -gt 0 ] 2>/dev/null && kill -KILL "-$pid" 2>/dev/null
        done
        dpkg --purge deployex >/dev/null 2>&1
        return 0
}

# --- build, from the working tree as a clean clone would have it ---
mkdir -p "$T/src"
(cd "$DEPLOYEX_TOP" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 tar cf - 2>/dev/null) | tar xf - -C "$T/src" || fail "cannot copy the tree"
start=$(date +%s)
(cd "$T/src" && dpkg-buildpackage -us -uc -b >"$T/build.log" 2>&1) ||
        fail "dpkg-buildpackage failed: $(tail -n 30 "$T/build.log")"
echo "dpkg-buildpackage: $(( $(date +%s) - start )) s"
v1=$(cd "$T/src" && dpkg-parsechangelog -S Version)
deb=$(ls "$T"/deployex_"$v1"_*.deb) || fail "no deployex_${v1}_ARCH.deb built"
# The upgrade: the same package under a higher version, as the next release would come.
v2="$v1+upgrade1"
dpkg-deb -R "$deb" "$T/pkg2"
sed -i "s/^Version: .*/Version: $v2/" "$T/pkg2/DEBIAN/control"
deb2="$T/deployex_${v2}.deb"
dpkg-deb -b "$T/pkg2" "$deb2" >/dev/null || fail "cannot build the upgrade package"

# --- the package's checks, as make deb runs them: lintian with no error and no
# warning, every hardening feature but control-flow protection (no CET-enabled
# crt1.o in Debian 12), the packaged unit's exposure 3.5 or better ---
lintian --fail-on error,warning --suppress-tags-from-file "$T/src/debian/lintian-run.ignore" "$deb" \
        >"$T/lintian.log" 2>&1 || fail "lintian: $(cat "$T/lintian.log")"
ok
dpkg-deb -x "$deb" "$T/root"
# shellcheck disable=SC2046 # the programs beside deployexd, one word each
hardening-check --nocfprotection "$T/root/usr/bin/deployex" \
        $(ls -d "$T"/root/usr/lib/deployex/* | grep -v '/deployex-log$') >"$T/hardening.log" 2>&1 ||
        fail "hardening-check: $(cat "$T/hardening.log")"
ok
# deployex-log is a static PIE: hardening-check cannot see a static binary's stack protector,
# scripts/static-pie-check finds it in the unstripped build (and checks static, PIE, RELRO, NOW).
LOGW="$T/root/usr/lib/deployex/deployex-log"
hardening-check --nocfprotection --nostackprotector "$LOGW" >"$T/hardening.log" 2>&1 ||
        fail "hardening-check: $(cat "$T/hardening.log")"
ok
"$T/src/scripts/static-pie-check" "$LOGW" "$T/src/build/release/deployex-log" >"$T/static.log" 2>&1 ||
        fail "the packaged deployex-log: $(cat "$T/static.log")"
ok
# (systemd_unit.sh rates examples/systemd/deployex.service the same way; both skip without systemd.)
if command -v systemd-analyze >/dev/null; then
        systemd-analyze security --offline=true --threshold=35 "$T/root$UNIT" >"$T/analyze.log" 2>&1 ||
                fail "the packaged unit's exposure is above 3.5: $(tail -n 1 "$T/analyze.log")"
        ok
fi

# --- install ---
dpkg_do -i "$deb"
getent group deployex >/dev/null || fail "no group deployex after dpkg -i"
gid=$(getent group deployex | cut -d: -f3)
assert_eq "2770 root deployex" "$(stat -c '%a %U %G' /etc/deployex/overrides.d)" "overrides.d"
assert_eq "2751 root deployex" "$(stat -c '%a %U %G' /var/lib/deployex)" "/var/lib/deployex"
assert_eq "2750 root deployex" "$(stat -c '%a %U %G' /var/log/deployex)" "/var/log/deployex"
assert_eq "660 root deployex" "$(stat -c '%a %U %G' /var/lib/deployex/state/audit.jsonl)" "the audit log"
assert_eq "600 root" "$(stat -c '%a %U' /etc/deployex/cookie)" "the generated cookie"
run 0 /usr/bin/deployex check
assert_contains "$OUT" "ok (0 apps" "the installed example configuration"
for f in /usr/share/man/man1/deployex.1.gz /usr/share/man/man5/deployex.json.5.gz \
        /usr/share/man/man5/deployex-state.5.gz /usr/share/man/man7/deployex-hooks.7.gz \
        /usr/share/bash-completion/completions/deployex /usr/lib/deployex/deployex-cli /usr/lib/deployex/deployex-log /usr/lib/deployex/deployex-hook /usr/lib/deployex/deployex-unpack /usr/lib/deployex/deployexd \
        /usr/share/deployex/hooks/erlang.lua "$UNIT"; do
        [ -f "$f" ] || fail "$f is not installed"; ok
done
grep -q '^ExecStart=/usr/bin/deployex run$' "$UNIT" || fail "the unit does not run /usr/bin/deployex"
ok

# --- configure one app, start the daemon as the unit would ---
mkdir -p "$T/bucket/dist/demo" "$T/bucket/versions/demo/prod"
cat >/etc/deployex/deployex.json <<JSON
// written by tests/integration/install_deb.sh
{"source": "file://$T/bucket", "cookie_file": "/etc/deployex/cookie",
 "apps": [{"name": "demo", "language": "erlang", "user": "root", "replicas": 2, "ports": {"PORT": $PORT},
           "healthy_after_ms": 500, "stop_timeout_ms": 5000}]}
JSON
# The packaged conffile's mode, whatever umask wrote this copy (a test runner's may be 077).
chmod 0644 /etc/deployex/deployex.json
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
umask_unit=$(sed -n 's/^UMask=//p' "$UNIT")
[ -n "$caps" ] && [ -n "$umask_unit" ] || fail "no CapabilityBoundingSet or UMask in the unit"
start_unit_daemon() {
        rm -f /var/lib/deployex/run/deployex.pid
        # EnvironmentFile=-/etc/default/deployex, and nothing else of this shell's environment.
        setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 sh -c "
                umask $umask_unit
                [ -f /etc/default/deployex ] && { set -a; . /etc/default/deployex; set +a; }
                exec setpriv --bounding-set=-all,$caps --inh-caps=-all --no-new-privs \
                        /usr/bin/deployex run" >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        wait_for 20 "[ -s /var/lib/deployex/run/deployex.pid ]" "the daemon to start"
}
start_unit_daemon
assert_eq "$(cat /var/lib/deployex/run/deployex.pid)" "$DAEMON_PID" "the daemon's pid file"
# `deployex run` became the lean daemon program, in the same process.
assert_eq "/usr/lib/deployex/deployexd" "$(readlink "/proc/$DAEMON_PID/exe")" "the daemon runs deployexd"
grep -q "^CapBnd:.*0000000000000$(printf '%x' $(( (1<<0) | (1<<1) | (1<<3) | (1<<5) | (1<<6) | (1<<7) )))$" \
        "/proc/$DAEMON_PID/status" || fail "capability bounding set: $(grep CapBnd "/proc/$DAEMON_PID/status")"
ok

publish_demo 1.0.0
dxs() { /usr/bin/deployex status --json; }
running() { # N VERSION
        [ "$(dxs | jq "[.apps[0].instances[] | select(.state == \"running\" and .version == \"$2\")] | length")" = "$1" ]
}
wait_for 90 "running 2 1.0.0" "both instances to run 1.0.0"
wait_for 30 "answer $PORT | grep -q 'demo 1.0.0 demo-1@'" "the demo to answer on port $PORT"
pids=$(dxs | jq -c '[.apps[0].instances[].pid]')

# --- the CLI: root, a member of group deployex, an outsider ---
as_member() { setpriv --reuid=65534 --regid=65534 --groups="$gid" "$@"; }
as_outsider() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
run 0 /usr/bin/deployex status
assert_contains "$OUT" "daemon running (pid $DAEMON_PID)" "root's status"
as_member test -r /etc/deployex/deployex.json ||
        fail "a member of group deployex cannot read /etc/deployex/deployex.json: $(as_member id 2>&1); $(namei -l /etc/deployex/deployex.json 2>&1 | tr '\n' ';'); $(ls -la /etc/deployex 2>&1 | tr '\n' ';')"
run 0 as_member /usr/bin/deployex status --json
assert_eq "true" "$(jqr "$OUT" '.daemon.running')" "a member's status: the daemon"
assert_eq "$pids" "$(printf '%s' "$OUT" | jq -c '[.apps[0].instances[].pid]')" \
        "a member's status: the instances"
run 0 as_member /usr/bin/deployex history demo
assert_contains "$OUT" "1.0.0" "a member's history"
run 0 as_member /usr/bin/deployex logs demo 1 -n 5
run 0 as_member /usr/bin/deployex pause demo
assert_not_contains "$ERR" "audit" "a member's pause: no audit warning"
assert_contains "$(tail -n 1 /var/lib/deployex/state/audit.jsonl)" '"from":"uid 65534 (nobody)","action":"pause"' \
        "the member's pause in the audit log"
assert_eq "640 nobody deployex" "$(stat -c '%a %U %G' /etc/deployex/overrides.d/demo.json)" \
        "the override a member wrote"
wait_for 10 "[ \"\$(dxs | jq -r '.apps[0].paused')\" = true ]" "the member's pause to apply"
assert_eq "" "$(dxs | jq -r '.apps[0].desired.error // empty')" "no refusal of the member's override"
run 0 /usr/bin/deployex resume demo
assert_eq "640 root deployex" "$(stat -c '%a %U %G' /etc/deployex/overrides.d/demo.json)" \
        "the override root wrote"
wait_for 10 "[ \"\$(dxs | jq -r '.apps[0].paused')\" = false ]" "root's resume to apply"
run 1 as_member /usr/bin/deployex unghost demo --all
assert_contains "$ERR" "run it as root" "a member's unghost"
run 1 as_outsider /usr/bin/deployex status
assert_eq "deployex status: cannot read /var/lib/deployex/state: permission denied; are you in group deployex?" \
        "$ERR" "an outsider's status"
run 1 as_outsider /usr/bin/deployex pause demo
assert_contains "$ERR" "Permission denied; overrides are written by root and members of group deployex" \
        "an outsider's pause"

# --- upgrade: the apps keep running, the new daemon adopts them ---
dpkg_do -i "$deb2"
assert_eq "$v2" "$(dpkg-query -W -f='${Version}' deployex)" "the installed version"
# What postinst does under systemd: SIGQUIT (the daemon exits, instances stay), then start.
old=$DAEMON_PID
kill -QUIT "$old"
wait_for 10 "gone $old" "the old daemon to exit on SIGQUIT"
start_unit_daemon
wait_for 30 "running 2 1.0.0" "the new daemon to adopt both instances"
assert_eq "$pids" "$(dxs | jq -c '[.apps[0].instances[].pid]')" "instance pids across the upgrade"
assert_contains "$(cat "$T/daemon.log")" "app=demo instance=2 version=1.0.0 adopted pid" \
        "the new daemon's log"

# --- remove and purge: what prerm's stop does (SIGTERM), then dpkg --purge ---
kill -TERM "$DAEMON_PID"
wait_for 30 "gone $DAEMON_PID" "the daemon to stop every instance and exit"
for p in $(printf '%s' "$pids" | tr -d '[]' | tr ',' ' '); do
        gone "$p" || fail "instance pid $p still runs after the stop"
        ok
done
dpkg_do --purge deployex
for f in /usr/bin/deployex /etc/deployex/deployex.json /etc/deployex/cookie /var/lib/deployex \
        /var/log/deployex /etc/deployex/overrides.d "$UNIT"; do
        [ -e "$f" ] && fail "$f is left after the purge"
        ok
done
[ -z "$(answer $PORT)" ] || fail "something still answers on port $PORT"
pgrep -f '/var/lib/deployex/' >/dev/null && fail "processes left: $(pgrep -af '/var/lib/deployex/')"
ok
DAEMON_PID=""
finish
