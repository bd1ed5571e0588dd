# Sourced by the integration scripts: a fresh temporary root per script,
# assertions that say what they expected, and cleanup of everything started.
set -u
: "${DEPLOYEX:?set DEPLOYEX to the deployex binary (tests/run does)}"
: "${DEPLOYEX_TOP:?set DEPLOYEX_TOP to the repository root}"

T=$(mktemp -d "${TMPDIR:-/tmp}/deployex-test.XXXXXX")
CHECKS=0
cleanup() {
        # Kill whatever this script started (each in its own process group).
        for pg in ${KILL_GROUPS:-}; do kill -KILL -- "-$pg" 2>/dev/null; done
        rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
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
 "apps": [{"name": "myapp", "language": "erlang", "replicas": $1, "ports": {"PORT": 47100}}]}
JSON
}
# publish VERSION [extra json members]
publish() {
        mkdir -p "$T/bucket/versions/myapp/prod"
        printf '{"version": "%s"%s}\n' "$1" "${2:-}" >"$T/bucket/versions/myapp/prod/current.json"
}
finish() { echo "ok: $CHECKS checks"; }
