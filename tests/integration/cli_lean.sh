# The lean front (docs/daemon.md, PROGRAMS): bin/deployex runs the readers (status, plan,
# history, ghosts, logs, audit, version) linked with libc and yajl alone, and execs the full
# program, deployex-cli, for everything else with the same command line.  Checked here: the
# front's libraries (its ELF and a running `status -w`'s /proc/PID/maps), that each reader's
# output and exit status are the full program's on the same state, that the other commands
# (check, pin, the usage, an unknown command) still work through the exec, that the daemon
# runs deployex-cli for its jobs, and the one line when the full program is missing.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=48260
BUILD=$(dirname "$DEPLOYEX")
FULL="$BUILD/deployex-cli"
full() { "$FULL" -c "$T/deployex.json" "$@"; }

# The front's ELF needs libc and yajl (and, in a sanitizer build, the sanitizer runtimes).
needed=$(readelf -d "$DEPLOYEX" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
for lib in $needed; do
        case "$lib" in
        libc.so.* | libyajl.so.*) ok ;;
        libasan.so.* | libubsan.so.*)
                [ -n "$(nm -D "$DEPLOYEX" 2>/dev/null | grep -m1 __asan_init)" ] ||
                        fail "the front needs $lib but is not a sanitizer build"; ok ;;
        *) fail "the front needs $lib: $needed" ;;
        esac
done
assert_contains "$(readelf -d "$FULL" | grep NEEDED)" "libcurl" "the full program links libcurl"

HEALTHY_MS=300 demo_config 2 $BASE
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "2 replicas running 1.0.0"
wait_for 30 "[ \"\$(st | jq -r '[.apps[0].instances[] | select(.ready)] | length')\" = 2 ]" "both instances ready"
# The daemon's jobs and workers run the full program itself, not through the front.
assert_contains "$(tr '\0' ' ' <"/proc/$DAEMON_PID/cmdline")" "--cli $FULL -c $T/deployex.json" \
        "the daemon runs deployex-cli for its jobs"
grep -q "job 'hook start demo/1' started" "$T/daemon.log" || fail "no start hook job in the daemon log"; ok

# A running front (status -w redraws until stopped): it is the front, and maps none of the
# full program's libraries.
setsid "$DEPLOYEX" -c "$T/deployex.json" status -w >"$T/watch.out" 2>&1 &
WPID=$!
KILL_GROUPS="${KILL_GROUPS:-} $WPID"
wait_for 10 "grep -q 'demo (erlang)' '$T/watch.out'" "status -w to draw"
assert_eq "$DEPLOYEX" "$(readlink "/proc/$WPID/exe")" "status -w runs in the front"
maps=$(cat "/proc/$WPID/maps")
for lib in libcurl libarchive liblua libssl libcrypto libei libmicrohttpd libgnutls libinotifytools; do
        assert_not_contains "$maps" "$lib" "$lib in the front's maps"
done
assert_contains "$maps" "libyajl" "yajl in the front's maps"
kill -TERM "$WPID"
wait "$WPID" 2>/dev/null

# Each reader: the same bytes and exit status as the full program on the same state (the
# uptimes move between the two runs, so status is compared without them).
same() { # WHAT FILTER ARGS...: the front and the full program agree
        what=$1 filter=$2; shift 2
        dx "$@" >"$T/front.out" 2>"$T/front.err"; frc=$?
        full "$@" >"$T/full.out" 2>"$T/full.err"; xrc=$?
        assert_eq "$xrc" "$frc" "$what: exit status"
        assert_eq "$(sed "$filter" "$T/full.out")" "$(sed "$filter" "$T/front.out")" "$what: stdout"
        assert_eq "$(cat "$T/full.err")" "$(cat "$T/front.err")" "$what: stderr"
}
UP='s/"uptime_ms":[0-9]*//g'
same "status --json" "$UP" status --json
same "status --json demo" "$UP" status --json demo
same "status of an unknown app" "" status nosuch
same "status with a bad option" "" status --bogus
same "status --help" "" status --help
same "plan --json" "" plan --json
same "plan" "" plan
same "history --json" "" history --json demo
same "history" "" history demo
same "ghosts --json" "" ghosts --json demo
same "logs" "" logs demo 1 -n 5
same "audit --json" "" audit --json
same "version" "" version
same "--version" "" --version
same "help status" "" help status
same "__apps (shell completion)" "" __apps
run 0 dx status --json
assert_eq "2" "$(jqr "$OUT" '[.apps[0].instances[] | select(.state == "running")] | length')" \
        "the front's status sees both instances"
# The full program's answers, through the front: the usage, errors, non-readers.
same "--help" "" --help
same "no command" ""
same "an unknown command" "" nosuch
same "an unknown option" "" --bogus
same "check" "" check --offline
run 0 dx pin demo 1.0.0
assert_eq "1.0.0" "$(jq -r .version "$T/overrides/demo.json")" "pin through the front wrote the override"
run 1 dx pin demo 9.9.9
assert_contains "$ERR" "9.9.9" "pin of an unpublished version, through the front"
run 0 dx unpin demo
[ ! -e "$T/overrides/demo.json" ] || [ "$(jq -r '.version // "none"' "$T/overrides/demo.json")" = none ] ||
        fail "unpin through the front left $(cat "$T/overrides/demo.json")"; ok

# A remote source is read over HTTPS: the front hands the reader to the full program (an
# missing key file gives both the same error for each app).
sed 's|"source": "file://[^"]*"|"source": "gs://nosuch-bucket"|' "$T/deployex.json" >"$T/gs.json"
export GOOGLE_APPLICATION_CREDENTIALS="$T/no-such-key.json"
"$DEPLOYEX" -c "$T/gs.json" status --json >"$T/front.out" 2>"$T/front.err"; frc=$?
"$FULL" -c "$T/gs.json" status --json >"$T/full.out" 2>"$T/full.err"; xrc=$?
assert_eq "$xrc" "$frc" "status on gs://: exit status"
assert_eq "$(sed "$UP" "$T/full.out" | jq -c '.apps[0].desired')" "$(sed "$UP" "$T/front.out" | jq -c '.apps[0].desired')" \
        "status on gs://: the desired state as the full program reads it"
assert_not_contains "$(cat "$T/front.out" "$T/front.err")" "not by the daemon" "the front read gs:// itself"
unset GOOGLE_APPLICATION_CREDENTIALS

# The front alone (a broken install): the readers work, the rest names what is missing.
mkdir -p "$T/solo/bin"
cp "$DEPLOYEX" "$T/solo/bin/deployex"
run 0 "$T/solo/bin/deployex" -c "$T/deployex.json" status --json
assert_eq "true" "$(jqr "$OUT" .daemon.running)" "status from the front alone"
run 1 "$T/solo/bin/deployex" -c "$T/deployex.json" check
assert_eq "deployex: the full program is missing: neither $T/solo/bin/deployex-cli nor $T/solo/lib/deployex/deployex-cli is an executable file; reinstall deployex (the package, or make install)" \
        "$ERR" "the front without the full program"
assert_eq "" "$OUT" "nothing on stdout without the full program"

kill -TERM "$DAEMON_PID"
wait_for 30 "! kill -0 $DAEMON_PID" "the daemon to exit"
finish
