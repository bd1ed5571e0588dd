# Sourced by the benchmarks: a fresh temporary root, the release binary and
# the default hooks copied into it (a rebuild of the tree mid-run must not
# change what is measured), the stopwatch, demo releases under names of
# their own, and the cleanup of every process a benchmark starts.
set -eu

TOP=${BENCH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BENCH_BUILD="$TOP/build/bench"
SRC_BIN=${DEPLOYEX:-$TOP/build/release/deployex}
[ -x "$SRC_BIN" ] || { echo "bench: $SRC_BIN is missing; run 'make' (or bench/run)" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/deployex-bench.XXXXXX")
mkdir -p "$T/bin" "$T/share/deployex/hooks" "$BENCH_BUILD"
cp "$SRC_BIN" "$T/bin/deployex"
# The full program, the daemon program and the lean log writer beside it, as in a build tree
# (docs/daemon.md, PROGRAMS; a tree from before deployex-cli has the full program as deployex,
# one from before deployexd runs the daemon in deployex itself, and without deployex-log the
# daemon runs `deployex __log`, without deployex-hook `deployex __hook`).
for p in deployex-cli deployexd deployex-log deployex-hook deployex-unpack; do
        [ ! -x "$(dirname "$SRC_BIN")/$p" ] || cp "$(dirname "$SRC_BIN")/$p" "$T/bin/"
done
cp "$TOP"/hooks/*.lua "$T/share/deployex/hooks/"
DX="$T/bin/deployex"
export DEPLOYEX_HOOKS_PATH="$T/share/deployex/hooks"
DAEMON_PID=

# --- cleanup: the daemon's group, every instance's group, then the files ---

# The pids of the instances the records name.
record_pids() {
        for f in "$T"/var/state/*/instances/*.json; do
                [ -f "$f" ] || continue
                jq -r '.pid // 0' "$f" 2>/dev/null || true
        done
}
# alive PID: exists and is not a zombie waiting for this shell.
alive() {
        [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != "" ] &&
                [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}
# Processes whose command line names this root, but this shell.
leftovers() {
        for d in /proc/[0-9]*; do
                pid=${d#/proc/}
                [ "$pid" = "$$" ] && continue
                case "$(tr '\0' ' ' 2>/dev/null <"$d/cmdline")" in
                *"$T/"*) echo "$pid" ;;
                esac
        done
}
cleanup() {
        rc=$?
        set +e
        trap - EXIT INT TERM
        if [ -n "$DAEMON_PID" ] && alive "$DAEMON_PID"; then
                # SIGTERM: the daemon stops every instance, then exits.
                kill -TERM "$DAEMON_PID" 2>/dev/null || true
                i=0
                while alive "$DAEMON_PID" && [ $i -lt 200 ]; do
                        sleep 0.1; i=$((i + 1))
                done
        fi
        [ -n "$DAEMON_PID" ] && kill -KILL -- "-$DAEMON_PID" 2>/dev/null
        for pid in $(record_pids); do
                [ "$pid" -gt 0 ] 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
        done
        # Last resort, by pid: anything still running from this root (log writers end at EOF).
        sleep 0.3
        for pid in $(leftovers); do
                echo "bench: killing leftover pid $pid: $(tr '\0' ' ' 2>/dev/null </proc/"$pid"/cmdline)" >&2
                kill -KILL "$pid" 2>/dev/null
        done
        # BENCH_KEEP_LOG=FILE keeps the daemon's log for a look at where the time went.
        [ -n "${BENCH_KEEP_LOG:-}" ] && cp "$T/daemon.log" "$BENCH_KEEP_LOG" 2>/dev/null
        for _ in 1 2 3 4 5; do rm -rf "$T" 2>/dev/null && break; sleep 0.2; done
        exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "bench: $*" >&2; exit 1; }

# run_bg CMD...: run CMD (a command or a function) in the background and wait
# for it.  A shell runs its traps only once its foreground command has ended;
# `wait` returns as soon as a signal comes, and cleanup then stops the rest.
run_bg() { "$@" & wait $!; }
say() { printf '%s\n' "$*"; }

# --- the stopwatch (bench/dxwatch.c), built with the project's warnings ---

DXWATCH="$BENCH_BUILD/dxwatch"
if [ ! -x "$DXWATCH" ] || [ "$TOP/bench/dxwatch.c" -nt "$DXWATCH" ]; then
        ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wpedantic -Werror -Wshadow \
                -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -O2 -I"$TOP" \
                -o "$DXWATCH.tmp" "$TOP/bench/dxwatch.c" && mv "$DXWATCH.tmp" "$DXWATCH"
fi

# --- releases ---

# bench_release NAME VERSION: the demo Erlang release (examples/erlang/demo)
# renamed to NAME, so that its nodes (NAME-n@host) never meet the test
# suite's "demo" nodes in epmd; built once, kept in build/bench/releases.
bench_release() {
        name=$1 version=$2
        out="$BENCH_BUILD/releases/$name-$version.tar.gz"
        if [ ! -f "$out" ]; then
                work=$(mktemp -d "$T/release.XXXXXX")
                cp -r "$TOP/examples/erlang/demo/." "$work/"
                for f in "$work"/src/demo*; do
                        mv "$f" "$work/src/$(basename "$f" | sed "s/^demo/$name/")"
                done
                for f in "$work"/rebar.config "$work"/config/* "$work"/src/*; do
                        sed -e "s/demo/$name/g" -e "s/@VERSION@/$version/g" -e "s/@BOOT@/ok/g" \
                                "$f" >"$f.tmp" && mv "$f.tmp" "$f"
                done
                (cd "$work" && HOME="$work" REBAR_CACHE_DIR="$work/.cache" \
                        rebar3 as prod tar >"$work/build.log" 2>&1) ||
                        { cat "$work/build.log" >&2; die "cannot build release $name $version"; }
                mkdir -p "$BENCH_BUILD/releases"
                cp "$work/_build/prod/rel/$name/$name-$version.tar.gz" "$out.tmp"
                mv "$out.tmp" "$out"
                rm -rf "$work"
        fi
        echo "$out"
}

# --- configuration, bucket, daemon ---

# write_config APP_JSON...: one object per app, on a file:// bucket under $T.
write_config() {
        mkdir -p "$T/bucket" "$T/var" "$T/log" "$T/overrides"
        apps=$(printf '%s,\n' "$@" | sed '$ s/,$//')
        cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "bench-cookie-$$",
 "apps": [$apps]}
JSON
        "$DX" -c "$T/deployex.json" check >/dev/null || die "the benchmark's configuration is refused"
}

# app_json NAME REPLICAS BASE_PORT [extra members]
app_json() {
        printf '{"name": "%s", "language": "erlang", "user": "root", "replicas": %s, "ports": {"PORT": %s}, "healthy_after_ms": %s, "rollback_timeout_ms": 30000, "stop_timeout_ms": 5000%s}' \
                "$1" "$2" "$3" "${HEALTHY_MS:-300}" "${4:-}"
}

# publish NAME VERSION: tarball into the bucket, then current.json (with its sha256).
publish() {
        tarball=$(bench_release "$1" "$2")
        mkdir -p "$T/bucket/dist/$1" "$T/bucket/versions/$1/prod"
        cp "$tarball" "$T/bucket/dist/$1/$1-$2.tar.gz"
        printf '{"version": "%s", "hash": "bench", "sha256": "%s"}\n' "$2" \
                "$(sha256sum "$tarball" | cut -d' ' -f1)" >"$T/bucket/versions/$1/prod/current.json.tmp"
        mv "$T/bucket/versions/$1/prod/current.json.tmp" "$T/bucket/versions/$1/prod/current.json"
}

start_daemon() {
        epmd -daemon # shared by every BEAM node on the host; left running, as the tests do
        setsid "$DX" -c "$T/deployex.json" run ${BENCH_DEBUG:+--debug} >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        wait_for 10 "[ -s '$T/var/run/deployex.pid' ]" "the daemon to start"
}

# wait_for SECONDS CONDITION WHAT
wait_for() {
        end=$(( $(date +%s) + $1 ))
        while ! eval "$2" >/dev/null 2>&1; do
                if [ "$(date +%s)" -ge "$end" ]; then
                        tail -n 40 "$T/daemon.log" >&2 2>/dev/null || true
                        die "timed out after $1 s waiting for $3"
                fi
                sleep 0.1
        done
}

# converged APP REPLICAS VERSION: every instance running VERSION and ready.
converged() {
        [ "$("$DX" -c "$T/deployex.json" status --json |
                jq -r --arg a "$1" --arg v "$3" \
                '[.apps[] | select(.name == $a) | .instances[] | select(.state == "running" and .version == $v)] | length')" = "$2" ]
}

machine() {
        say "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
        say "load average: $(cut -d' ' -f1-3 /proc/loadavg); temp root on $(df -T "$T" | awk 'NR==2 {print $2}')"
}
