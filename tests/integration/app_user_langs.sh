# Per-app users for every language (issue 12 item 3): an Elixir, an Erlang and
# a Gleam app, each with its own system user, deployed by the daemon: every
# process of each instance runs as its app's user, the pre-commands ran as it
# (they wrote its mark), the cookie homes and trees are its, rpc reaches each
# node.  tests/integration/app_user.sh covers hot upgrades, remote and check.
. "$DEPLOYEX_TOP/tests/fixtures/hooks-test-lib.sh"

[ "$(id -u)" = 0 ] || { echo "skip: needs root to create users and run apps as them"; exit 77; }
command -v useradd >/dev/null || fail "no useradd (the passwd package)"
epmd -daemon
USERS=""
for l in ex erl gl; do
        u=dx${l}$$
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" ||
                fail "cannot create user $u"
        USERS="$USERS $u"
done
trap 'cleanup; for u in $USERS; do userdel "$u" 2>/dev/null; done' EXIT
chmod 755 "$T"
COOKIE="users-cookie-$$"
mkdir -p "$T/bucket" "$T/var" "$T/log" "$T/overrides"
for l in ex erl gl; do : >"$T/mark-$l" && chown "dx$l$$" "$T/mark-$l"; done
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "$COOKIE",
 "apps": [
  {"name": "exapp", "language": "elixir", "user": "dxex$$", "replicas": 1, "ports": {"PORT": 47860},
   "env": {"MIGRATION_MARK": "$T/mark-ex"}, "healthy_after_ms": 500},
  {"name": "erlapp", "language": "erlang", "user": "dxerl$$", "replicas": 1, "ports": {"PORT": 47861},
   "env": {"MIGRATION_MARK": "$T/mark-erl"}, "healthy_after_ms": 500},
  {"name": "gleamapp", "language": "gleam", "user": "dxgl$$", "replicas": 1, "ports": {"PORT": 47862},
   "env": {"MIGRATION_MARK": "$T/mark-gl"}, "healthy_after_ms": 500}]}
JSON
publish_lang() { # LANG APP PRE_COMMAND
        mkdir -p "$T/bucket/dist/$2" "$T/bucket/versions/$2/prod"
        "$FIXTURES/build-release" "$1" "$2" 1.0.0 "$T/bucket/dist/$2" >/dev/null ||
                fail "cannot build the $1 release"
        printf '{"version": "1.0.0", "pre_commands": ["%s"]}\n' "$3" \
                >"$T/bucket/versions/$2/prod/current.json"
}
publish_lang elixir exapp "eval Exapp.Release.migrate()"
publish_lang erlang erlapp "eval erlapp_release:migrate()"
publish_lang gleam gleamapp "eval gleamapp_web:migrate()"
run 0 dx check --offline
start_daemon
running() { [ "$(st | jq -r ".apps[] | select(.name == \"$1\") | .instances[0].state")" = running ]; }
for app in exapp erlapp gleamapp; do
        wait_for 120 "running $app" "$app running"
done

# procs_of PID: the instance's session and every descendant.
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
check_app() { # APP LANG-TAG
        u=dx$2$$; uid=$(id -u "$u")
        pid=$(st | jq -r ".apps[] | select(.name == \"$1\") | .instances[0].pid")
        n=0 bad=""
        for p in $(procs_of "$pid"); do
                ids=$(awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' "/proc/$p/status" 2>/dev/null) || continue
                [ -n "$ids" ] || continue
                n=$((n + 1))
                [ "$ids" = "$uid,$uid,$uid,$uid" ] || bad="$bad $p($(cat /proc/$p/comm)):$ids"
        done
        assert_eq "" "$bad" "$1: every process runs as $u"
        [ "$n" -ge 2 ] || fail "$1: expected the VM and its helpers, found $n processes"
        ok
        svc="$T/var/service/$1"
        assert_eq "" "$(find "$svc" -mindepth 1 ! -user "$u" | head -n 5)" "$1: the service tree is $u's"
        assert_eq "$u 400" "$(stat -c '%U %a' "$svc/1/home/.erlang.cookie")" "$1: the cookie home"
        assert_contains "$(cat "$T/mark-$2")" "migrated $1" "$1: the pre-command ran as $u"
        run 0 dx rpc "$1" 1 erlang node
        assert_contains "$OUT" "$1-1@" "$1: rpc reaches the node"
        assert_eq "$u" "$(st | jq -r ".apps[] | select(.name == \"$1\") | .instances[0].user")" "$1: status user"
}
check_app exapp ex
check_app erlapp erl
check_app gleamapp gl
finish
