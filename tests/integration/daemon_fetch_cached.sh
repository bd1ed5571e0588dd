# One fetch job per version (reconciler/daemon/verified_cache.h): after a fetch job verified
# the cached tarball, the other replicas deploying that version start none.  A cached file
# changed since (written into, same size) is verified again by a new fetch job, which
# replaces it from the bucket; when the bucket's copy no longer matches current.json's
# sha256 either, the deployment is refused as before and nothing is left in the cache.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=47440

fetch_jobs() { grep -c "job 'fetch demo-1.0.0' started" "$T/daemon.log"; }
CACHED="$T/var/cache/demo/demo-1.0.0.tar.gz"

demo_config 3 $BASE
publish_demo 1.0.0
want_sha=$(jq -r .sha256 "$T/bucket/versions/demo/prod/current.json")
start_daemon
wait_for 90 "all_running 3 1.0.0" "3 replicas running 1.0.0"
assert_eq "1" "$(fetch_jobs)" "fetch jobs for 3 replicas of one version"
assert_eq "2" "$(grep -c 'demo-1.0.0: the cached tarball is the one verified; no fetch job' "$T/daemon.log")" \
        "replicas that skipped the fetch job"
for n in 1 2 3; do
        grep -q "job 'unpack demo-1.0.0 into demo/$n' started" "$T/daemon.log" ||
                fail "instance $n was not unpacked from the cache"
        ok
done

# The cached file corrupted in place (same size, same inode): a fourth replica's deploy
# runs a fetch job, which finds the mismatch and downloads the tarball again.
printf 'garbage!' | dd of="$CACHED" bs=1 seek=100 conv=notrunc status=none
[ "$(sha256sum "$CACHED" | cut -d' ' -f1)" != "$want_sha" ] || fail "the corruption did not take"
ok
sed -i 's/"replicas": 3/"replicas": 4/' "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 90 "all_running 4 1.0.0" "4 replicas after the corrupted cache"
assert_eq "2" "$(fetch_jobs)" "a fetch job for the corrupted cached tarball"
assert_eq "$want_sha" "$(sha256sum "$CACHED" | cut -d' ' -f1)" "the cached tarball after the refetch"
assert_contains "$(answer $((BASE + 3)))" "demo 1.0.0 demo-4@" "instance 4 answers"

# Corrupted again, and the bucket's copy does not match current.json's sha256 any more:
# the fetch job refuses it, the fifth replica is not deployed, the cache holds nothing.
printf 'garbage!' | dd of="$CACHED" bs=1 seek=100 conv=notrunc status=none
printf 'not the release' >"$T/bucket/dist/demo/demo-1.0.0.tar.gz"
sed -i 's/"replicas": 4/"replicas": 5/' "$T/deployex.json"
kill -HUP "$DAEMON_PID"
wait_for 60 "grep -q 'demo-1.0.0.tar.gz: sha256 mismatch' '$T/daemon.log'" "the fetch job to refuse the download"
# (3 or more: the deferred deploy retries, each time with a fetch job)
[ "$(fetch_jobs)" -ge 3 ] || fail "no fetch job for the corrupted cached tarball, again: $(fetch_jobs)"
ok
[ -e "$CACHED" ] && fail "a tarball that does not match its sha256 stayed in the cache"
ok
[ "$(st | jq -r '.apps[0].instances[4].version // ""')" = "1.0.0" ] &&
        fail "instance 5 runs a release whose tarball did not verify"
ok
for n in 1 2 3 4; do
        assert_contains "$(answer $((BASE + n - 1)))" "demo 1.0.0 demo-$n@" "instance $n still answers"
done
finish
