# The daemon process is deployexd (docs/daemon.md, "Programs"): `deployex run` execs it in
# the same process, and it maps libc and yajl only.  While it deploys and supervises a real
# release, /proc/PID/maps holds no libcurl, libarchive, liblua, OpenSSL, GnuTLS or
# libmicrohttpd, and its binary has no libei, Lua, curl or archive code (libei is static);
# the jobs that need those libraries (unpack, the start hook, the readiness probe over the
# distribution) still run, in the full deployex binary or the hook runner
# (daemon_hook_runner.sh).
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47640
BUILD=$(dirname "$DEPLOYEX")

demo_config 2 $BASE
publish_demo 1.0.0
start_daemon
wait_for 60 "all_running 2 1.0.0" "2 replicas running 1.0.0"
wait_for 30 "[ \"\$(st | jq -r '[.apps[0].instances[] | select(.ready)] | length')\" = 2 ]" "both instances ready"

# `deployex run` became deployexd: the same pid (systemd's MainPID, $!), the lean program.
assert_eq "$BUILD/deployexd" "$(readlink "/proc/$DAEMON_PID/exe")" "the daemon process runs deployexd"
assert_eq "$DAEMON_PID" "$(cat "$T/var/run/deployex.pid")" "the pid of 'deployex run' is the daemon's"
assert_contains "$(tr '\0' ' ' <"/proc/$DAEMON_PID/cmdline")" "--cli $BUILD/deployex-cli -c $T/deployex.json" \
        "deployexd runs its jobs with the full program, not through the lean front"

# Its shared libraries: libc, ld.so and yajl; in a sanitizer build also the sanitizer
# runtimes and what they need (libstdc++, libm, libgcc_s).  Anything else fails.
libs=$(awk '$6 ~ /\.so/ { n = split($6, p, "/"); print p[n] }' "/proc/$DAEMON_PID/maps" | sort -u)
[ -n "$libs" ] || fail "no shared library in the daemon's maps"
for lib in $libs; do
        case "$lib" in
        libc.so.* | ld-linux*.so.* | libyajl.so.*) ;;
        libasan.so.* | libubsan.so.* | libstdc++.so.* | libm.so.* | libgcc_s.so.*)
                [ -n "$(nm -D "$BUILD/deployexd" 2>/dev/null | grep -m1 __asan_init)" ] ||
                        fail "the daemon maps $lib but is not a sanitizer build" ;;
        *) fail "the daemon maps $lib: $(echo $libs)" ;;
        esac
done
ok
for lib in libcurl libarchive liblua libssl libcrypto libgnutls libmicrohttpd libinotifytools; do
        assert_not_contains "$(cat "/proc/$DAEMON_PID/maps")" "$lib" "$lib in the daemon's maps"
done
# libei is linked statically: none of its code (nor Lua's, curl's, libarchive's) is in deployexd.
assert_eq "0" "$(nm "$BUILD/deployexd" | grep -cE ' [TtUu] (ei_|erl_|lua_|luaL_|curl_|archive_|EVP_|SSL_)')" \
        "ei, Lua, curl, archive or OpenSSL symbols in deployexd"

# The jobs that need those libraries ran, as children of the lean daemon.
for job in "unpack demo-1.0.0 into demo/1" "hook start demo/1" "readiness demo/1" \
           "hook start demo/2" "readiness demo/2"; do
        grep -q "job '$job' started" "$T/daemon.log" || fail "no job '$job' in the daemon log"
        ok
done
for n in 1 2; do
        assert_contains "$(answer $((BASE + n - 1)))" "demo 1.0.0 demo-$n@" "instance $n answers on its port"
done

# Supervision by the lean daemon: a crashed VM comes back and answers again.
pid1=$(inst_field 1 pid)
kill -KILL "$pid1"
wait_for 30 "[ \"\$(inst_field 1 crash_restarts)\" = 1 ] && [ \"\$(inst_field 1 state)\" = running ]" \
        "instance 1 restarted after its crash"
[ "$(inst_field 1 pid)" != "$pid1" ] || fail "instance 1 has a new pid"
wait_for 30 "[ -n \"\$(answer $BASE)\" ]" "instance 1 to answer after its crash"

# deployexd alone: it needs the full binary's path, and it reads no secrets store itself.
run 2 "$BUILD/deployexd" -c "$T/deployex.json"
assert_contains "$ERR" "--cli needs the absolute path of the deployex binary" "deployexd without --cli"
run 1 env DEPLOYEX_SECRETS_ADAPTER=aws DEPLOYEX_SECRETS_PATH=x \
        "$BUILD/deployexd" --cli "$DEPLOYEX" -c "$T/deployex.json"
assert_contains "$ERR" "start the daemon with 'deployex run', which fetches them" "deployexd refuses a store"

# SIGTERM stops the instances and deployexd exits 0, as 'deployex run' did.
kill -TERM "$DAEMON_PID"
wait_for 30 "! kill -0 $DAEMON_PID" "the daemon to exit"
wait $DAEMON_PID 2>/dev/null; rc=$?
assert_eq "0" "$rc" "deployexd's exit status after SIGTERM"
assert_eq "" "$(answer $BASE)" "instance 1 stopped"
finish
