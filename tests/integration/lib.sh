# Sourced by the integration scripts: a fresh temporary root per script,
# assertions that say what they expected, and cleanup of everything started.
set -u
: "${DEPLOYEX:?set DEPLOYEX to the deployex binary (tests/run does)}"
: "${DEPLOYEX_TOP:?set DEPLOYEX_TOP to the repository root}"

T=$(mktemp -d "${TMPDIR:-/tmp}/deployex-test.XXXXXX")
CHECKS=0
cleanup() {
        # Kill whatever this script started (each in its own process group).
        for pg in ${KILL_GROUPS:-}; do kill -KILL "-$pg" 2>/dev/null; done
        command -v cleanup_daemon >/dev/null 2>&1 && cleanup_daemon
        # A dying VM may still write for a moment.
        for _ in 1 2 3 4 5; do rm -rf "$T" 2>/dev/null && break; sleep 0.2; done
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        if [ -s "$T/daemon.log" ]; then
                echo "--- daemon log (tail) ---" >&2
                grep -v "debug: job" "$T/daemon.log" | tail -n 80 >&2
        fi
        exit 1
}
ok() { CHECKS=$((CHECKS + 1)); }
assert_eq() { # expected actual what
        [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"; ok
}
assert_contains() { # haystack needle what
        case "$1" in *"$2"*) ok ;; *) fail "$3: expected to find '$2' in: $1" ;; esac
}
assert_not_contains() {
        case "$1" in *"$2"*) fail "$3: did not expect '$2' in: $1" ;; *) ok ;; esac
}
# run EXPECTED_STATUS cmd...: runs cmd, stdout in $OUT, stderr in $ERR
run() {
        want=$1; shift
        "$@" >"$T/.out" 2>"$T/.err"; got=$?
        OUT=$(cat "$T/.out"); ERR=$(cat "$T/.err")
        [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want; stderr: $ERR; stdout: $OUT"
        ok
}
dx() { "$DEPLOYEX" -c "$T/deployex.json" "$@"; }
jqr() { printf '%s' "$1" | jq -r "$2"; }

# write_config REPLICAS [extra app json]: one erlang app "myapp" on a file:// bucket.
write_config() {
        mkdir -p "$T/bucket" "$T/var" "$T/log" "$T/overrides"
        cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "secret-cookie",
 "apps": [{"name": "myapp", "language": "erlang", "user": "root", "replicas": $1, "ports": {"PORT": 47100}}]}
JSON
}
# publish VERSION [extra json members]
publish() {
        mkdir -p "$T/bucket/versions/myapp/prod"
        printf '{"version": "%s"%s}\n' "$1" "${2:-}" >"$T/bucket/versions/myapp/prod/current.json"
}
finish() { echo "ok: $CHECKS checks"; }

# --- the daemon, real releases, real ports ---

FIXTURES="$DEPLOYEX_TOP/build/fixtures"

# demo_release VERSION [BOOT]: a cached Erlang demo release; prints its path.
demo_release() {
        v=$1; boot=${2:-ok}
        tag=$(printf '%s' "$boot" | tr -c 'A-Za-z0-9' '_')
        dir="$FIXTURES/erlang-demo/$tag"
        if [ ! -f "$dir/demo-$v.tar.gz" ]; then
                mkdir -p "$dir"
                "$DEPLOYEX_TOP/examples/erlang/build" "$v" "$dir" "$boot" >/dev/null ||
                        fail "cannot build the demo release $v ($boot)"
        fi
        echo "$dir/demo-$v.tar.gz"
}

# demo_config REPLICAS BASE_PORT [extra app members]: app "demo" on a file:// bucket.
# HEALTHY_MS, ROLLBACK_MS and BACKOFF (the restart_backoff object) override the defaults.
demo_config() {
        backoff=${BACKOFF:-'{"initial_ms": 200, "max_ms": 2000}'}
        mkdir -p "$T/bucket/dist/demo" "$T/bucket/versions/demo/prod" "$T/var" "$T/log" "$T/overrides"
        cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "test-cookie-$$",
 "apps": [{"name": "demo", "language": "erlang", "user": "root", "replicas": $1, "ports": {"PORT": $2},
           "healthy_after_ms": ${HEALTHY_MS:-1000}, "rollback_timeout_ms": ${ROLLBACK_MS:-20000},
           "stop_timeout_ms": 5000, "restart_backoff": $backoff${3:-}}]}
JSON
}

# publish_demo VERSION [BOOT] [SHA256]: copy the tarball into the bucket, then current.json.
publish_demo() {
        tarball=$(demo_release "$1" "${2:-ok}")
        cp "$tarball" "$T/bucket/dist/demo/demo-$1.tar.gz"
        sum=${3:-$(sha256sum "$tarball" | cut -d' ' -f1)}
        printf '{"version": "%s", "hash": "h%s", "sha256": "%s"}\n' "$1" "$1" "$sum" \
                >"$T/bucket/versions/demo/prod/current.json.tmp"
        mv "$T/bucket/versions/demo/prod/current.json.tmp" "$T/bucket/versions/demo/prod/current.json"
}

# start_daemon: deployex run in its own process group, log in $T/daemon.log.
start_daemon() {
        setsid "$DEPLOYEX" -c "$T/deployex.json" run --debug >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        KILL_GROUPS="${KILL_GROUPS:-} $DAEMON_PID"
        wait_for 10 "[ -s '$T/var/run/deployex.pid' ]" "the daemon to start"
}

# wait_for SECONDS CONDITION WHAT: poll a shell condition every 100 ms.
wait_for() {
        end=$(( $(date +%s) + $1 ))
        while ! eval "$2" >/dev/null 2>&1; do
                [ "$(date +%s)" -lt "$end" ] || fail "timed out after $1 s waiting for $3"
                sleep 0.1
        done
        ok
}

# vm_pids PGREP_ARGS...: the pids of the VMs pgrep finds, one a line.  A VM
# forks erl_child_setup as it boots, and until that child execs it has the
# VM's name and command line: a match whose parent matches too is that child,
# not a second VM.
vm_pids() {
        set -- " $(pgrep "$@" | tr '\n' ' ')"
        for p in $1; do
                pp=$(ps -o ppid= -p "$p" | tr -d ' ')
                [ -n "$pp" ] || continue # gone meanwhile
                case "$1" in *" $pp "*) ;; *) echo "$p" ;; esac
        done
}
# vm_count APP N: how many VMs of this test's instance N of APP run.
vm_count() { vm_pids -f -- "$T/var/service/$1/$2/.*-sname $1-$2" | wc -l | tr -d ' '; }

st() { "$DEPLOYEX" -c "$T/deployex.json" status --json; }
# inst_field N FIELD: a field of instance N from status --json
inst_field() { st | jq -r ".apps[0].instances[$(( $1 - 1 ))].$2"; }
# answer PORT: what the demo on PORT says ("" when nothing listens)
answer() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && cat <&3" 2>/dev/null | tr -d '\n'; }
all_running() { # N VERSION
        s=$(st)
        [ "$(printf '%s' "$s" | jq -r "[.apps[0].instances[] | select(.state == \"running\" and .version == \"$2\")] | length")" = "$1" ]
}
# kill_instances: whatever demo nodes this test's instances left (their process groups).
kill_instances() {
        for f in "$T"/var/state/*/instances/*.json; do
                [ -f "$f" ] || continue
                pid=$(jq -r '.pid // 0' "$f")
                [ "$pid" -gt 0 ] 2>/dev/null && kill -KILL "-$pid" 2>/dev/null
        done
        return 0
}
cleanup_daemon() {
        cgroups=$(instance_cgroups)
        [ -n "${DAEMON_PID:-}" ] && kill -KILL "-$DAEMON_PID" 2>/dev/null
        kill_instances
        pkill -KILL -f "$T/var" 2>/dev/null
        remove_cgroups "$cgroups"
        # mount_tmpfs_var's tmpfs goes last (lazily: a dying VM may still hold it).
        [ -n "${TMPFS_VAR:-}" ] && umount -l "$T/var" 2>/dev/null
        return 0
}
# mount_tmpfs_var: a small tmpfs (48 MB) as var_path, to fill or make read-only (lib_mntns.sh first).
mount_tmpfs_var() {
        [ -n "${DEPLOYEX_TEST_MNTNS:-}" ] || fail "mount_tmpfs_var: source lib_mntns.sh first"
        mkdir -p "$T/var"
        mount -t tmpfs -o size=48m,mode=0755 deployex-test-var "$T/var" || fail "cannot mount a tmpfs"
        TMPFS_VAR=1
        ok
}
# The cgroup v2 roots of this test's instances (the daemon makes one per var_path,
# docs/daemon.md CGROUPS): a killed daemon leaves them; no other test uses them.
instance_cgroups() {
        mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo 2>/dev/null)
        [ -n "$mnt" ] || return 0
        {
                # The daemon names its root at start; a running instance names its own.
                sed -n "s/.*instances run in cgroups under '\([^']*\)'.*/\1/p" "$T/daemon.log" 2>/dev/null
                for f in "$T"/var/state/*/instances/*.json; do
                        [ -f "$f" ] || continue
                        pid=$(jq -r '.pid // 0' "$f" 2>/dev/null)
                        [ "${pid:-0}" -gt 0 ] 2>/dev/null || continue
                        cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup" 2>/dev/null)
                        case "$cg" in */deployex-*/*) echo "$mnt${cg%/*}" ;; esac
                done
        } | sort -u
}
remove_cgroups() { # ROOTS: each empty instance cgroup, then the root (the killed die first)
        for root in $1; do
                for _ in 1 2 3 4 5 6 7 8 9 10; do
                        for c in "$root"/*/; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
                        rmdir "$root" 2>/dev/null && break
                        sleep 0.1
                done
        done
}

# --- the web UI ---

# The bcrypt hash of "test-password" (cost 4: tests check many logins).
WEB_PASSWORD=test-password
WEB_HASH='$2b$04$Fk.003kzhNa9ycyVTvmqqOSJEaBxgLwDBWhoWG7415Y0PlCXym7H6'
# web_http_json PORT: the "http" member for a config.
web_http_json() {
        printf ', "http": {"listen": "127.0.0.1:%s", "admin_password_hash": "%s"}' "$1" "$WEB_HASH"
}
# add_http PORT: add "http" to $T/deployex.json.
add_http() {
        jq --arg l "127.0.0.1:$1" --arg h "$WEB_HASH" '.http = {listen: $l, admin_password_hash: $h}' \
                "$T/deployex.json" >"$T/deployex.json.tmp" && mv "$T/deployex.json.tmp" "$T/deployex.json"
}
# start_web PORT: deployex web in its own process group; waits for /health.
start_web() {
        setsid "$DEPLOYEX" -c "$T/deployex.json" web >>"$T/web.log" 2>&1 &
        WEB_PID=$!
        KILL_GROUPS="${KILL_GROUPS:-} $WEB_PID"
        WEB="http://127.0.0.1:$1"
        wait_for 10 "curl -sf '$WEB/health'" "the web UI to answer /health"
}
# web_login: a session in $T/jar, its CSRF token in $CSRF.
web_login() {
        curl -s -c "$T/jar" -o /dev/null -H "Origin: $WEB" --data-urlencode "password=$WEB_PASSWORD" "$WEB/login"
        CSRF=$(curl -s -b "$T/jar" "$WEB/api/session" | jq -r .csrf)
        [ ${#CSRF} -eq 64 ] || fail "no session after logging in (csrf '$CSRF')"
}
# web_post PATH [BODY]: an authenticated POST; status in $CODE, body in $BODY
web_post() {
        BODY=$(curl -s -b "$T/jar" -o - -w '\n%{http_code}' -H "Origin: $WEB" -H "X-CSRF-Token: $CSRF" \
                -H 'Content-Type: application/json' --data "${2:-{\}}" "$WEB$1")
        CODE=$(printf '%s' "$BODY" | tail -n 1)
        BODY=$(printf '%s' "$BODY" | sed '$d')
}
# http_code ARGS...: curl's status code only
http_code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# need_cgroup2: skip (77) unless this test can write a cgroup v2 hierarchy; mnt is
# its mount point.
need_cgroup2() {
        mnt=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
        own=$(sed -n 's/^0:://p' /proc/self/cgroup)
        [ "$own" = / ] && own=
        probe="$mnt$own/deployex-test-probe-$$"
        if [ -z "$mnt" ] || ! mkdir "$probe" 2>/dev/null; then
                echo "skip: no writable cgroup v2 hierarchy here (the daemon falls back to its marker sweep)"
                exit 77
        fi
        rmdir "$probe"
}

# start_argv_hook LUA_LIST: $T/hooks.lua, whose start hook runs LUA_LIST (a Lua
# array constructor, e.g. '{ "/bin/sleep", "1000" }') with the default start's
# environment and cwd.
start_argv_hook() {
        cat >"$T/hooks.lua" <<LUA
function start(ctx)
        local cmd = deployex.default.start(ctx)
        cmd.argv = $1
        return cmd
end
LUA
}

# escapee_start_hook COMMAND: $T/hooks.lua, whose start hook runs the shell
# COMMAND in the background (a descendant the instance leaves behind), then the
# release in the foreground.
escapee_start_hook() {
        cat >"$T/hooks.lua" <<LUA
function start(ctx)
        local cmd = deployex.default.start(ctx)
        local argv = { "/bin/sh", "-c", '$1 & exec "\$0" "\$@"' }
        for _, a in ipairs(cmd.argv) do argv[#argv + 1] = a end
        cmd.argv = argv
        return cmd
end
LUA
}
