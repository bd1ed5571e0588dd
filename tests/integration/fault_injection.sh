# The journal keeps its promise at every phase: the daemon is killed with
# SIGKILL at each journal phase of a hot upgrade, of a full deployment and of
# a rollback (DEPLOYEX_DEBUG_CRASH_AT, reconciler/daemon/crash_point.h: the daemon
# dies exactly there, no sleep decides it), then restarted.  After every crash
# no state file is torn; after every restart the apps converge with exactly
# one VM per instance (none lost, none twice, none orphaned), the journal
# gone, and exactly the history lines the step owes -- none lost, none twice.
#
# hotapp alternates 1.0.0 -> 1.0.1 (hot) and 1.0.1 -> 1.0.0 (full); demo
# deploys versions that crash at boot and are rolled back to 1.0.0.
. "$DEPLOYEX_TOP/tests/fixtures/hot-test-lib.sh"
HOT=47980
DEMO=47990

hot_pair erlang hotapp 1.0.0 1.0.1
mkdir -p "$T/bucket/dist/hotapp" "$T/bucket/versions/hotapp/prod" "$T/bucket/dist/demo" \
        "$T/bucket/versions/demo/prod" "$T/var" "$T/log" "$T/overrides"
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "$HOT_COOKIE",
 "apps": [{"name": "hotapp", "language": "erlang", "replicas": 1, "ports": {"PORT": $HOT},
           "env": {"MIGRATION_MARK": "$T/mark"},
           "healthy_after_ms": 1000, "rollback_timeout_ms": 120000, "stop_timeout_ms": 5000,
           "restart_backoff": {"initial_ms": 200, "max_ms": 2000}},
          {"name": "demo", "language": "erlang", "replicas": 1, "ports": {"PORT": $DEMO},
           "healthy_after_ms": 1000, "rollback_timeout_ms": 120000, "stop_timeout_ms": 5000,
           "max_probation_crashes": 1,
           "restart_backoff": {"initial_ms": 200, "max_ms": 2000}}]}
JSON
hot_publish hotapp 1.0.0 '["eval hotapp_release:migrate()"]'
publish_demo 1.0.0

# app_field APP FIELD: a field of the app's only instance
app_field() { st | jq -r --arg a "$1" ".apps[] | select(.name == \$a) | .instances[0].$2"; }
app_on() { # APP VERSION: its instance runs VERSION, ready, nothing in flight
        [ "$(app_field "$1" state) $(app_field "$1" version)" = "running $2" ] &&
                [ ! -e "$T/var/state/$1/journal.json" ]
}
# The command lines of this test's VMs, one a line.
beams() {
        for p in $(vm_pids -x beam.smp); do
                tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null; echo
        done | grep -F -- "$T/var/service/"
}
# vms APP: the VMs of the app's instance 1 (its node name); all_vms: every one of them.
vms() { beams | grep -cE -- " -sname $1-1(@[^ ]*)?( |\$)"; }
all_vms() { beams | grep -c .; }
# history_count APP JQ_SELECT: lines of the app's history matching
history_count() { dx history --json "$1" | jq "[.[] | select($2)] | length"; }

# since_mark: the daemon's log since the last crash_daemon (a point may come twice).
since_mark() { tail -n "+$LOG_MARK" "$T/daemon.log"; }
crash_daemon() { # POINT: a daemon armed to die there
        LOG_MARK=$(( $(wc -l <"$T/daemon.log") + 1 ))
        DEPLOYEX_DEBUG_CRASH_AT=$1 setsid "$DEPLOYEX" -c "$T/deployex.json" run --debug \
                >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        KILL_GROUPS="${KILL_GROUPS:-} $DAEMON_PID"
        wait_for 20 "since_mark | grep -q 'CRASH_AT=$1:1: this daemon kills itself there'" \
                "the daemon armed for $1"
}
quit_daemon() { kill -QUIT "$DAEMON_PID"; wait "$DAEMON_PID"; }
# after_crash POINT: the daemon died by SIGKILL right there; nothing it left is torn.
after_crash() {
        wait_for 120 "since_mark | grep -q 'crash point $1:1 reached'" "the crash point $1"
        wait "$DAEMON_PID"; rc=$?
        assert_eq 137 "$rc" "the daemon died by SIGKILL at $1"
        for f in $(find "$T/var" -name '*.json' -type f); do
                jq empty "$f" >/dev/null 2>&1 || fail "$1: torn state file $f: $(head -c 300 "$f")"
        done
        for f in $(find "$T/var" -name '*.jsonl' -type f); do
                jq empty "$f" >/dev/null 2>&1 || fail "$1: torn history $f: $(tail -c 300 "$f")"
        done
        ok
        POINTS=$((POINTS + 1))
}
# converged APP VERSION POINT: the restarted daemon got there with one VM each, no orphan.
converged() {
        wait_for 120 "app_on $1 $2" "$1 on $2 after a crash at $3"
        [ "$(vms hotapp) $(vms demo) $(all_vms)" = "1 1 2" ] ||
                fail "$3: one VM per instance, no orphan: $(vms hotapp) $(vms demo) $(all_vms): $(beams)"
        ok
        pid=$(app_field "$1" pid)
        pgrep -s "$pid" beam.smp >/dev/null || fail "$3: the recorded pid $pid is not $1's VM's session"
        ok
        echo "crash at $3: converged on $1 $2"
}
POINTS=0

start_daemon
wait_for 60 "app_on hotapp 1.0.0 && app_on demo 1.0.0" "both apps on 1.0.0"
quit_daemon

# --- hot upgrade (1.0.0 -> 1.0.1) and full deployment (1.0.1 -> 1.0.0), alternately ---
# A bare phase is any action's: a deployment is planned full until upgrade_kind
# answers hot.  A+B crashes at A, then the daemon that recovers at B: the last
# one dies inside the recovery of an interrupted hot upgrade, a full
# deployment whose replace phase only that fallback reaches.
HOT_POINTS="begin fetch unpack preflight upgrade_kind deploy-hot/hot_pre_commands
deploy-hot/hot_upgrade deploy-hot/hot_previous deploy-hot/finish deploy-hot/cleared
deploy-hot/hot_upgrade+deploy-full/replace"
FULL_POINTS="deploy-full/begin deploy-full/fetch deploy-full/unpack deploy-full/preflight
deploy-full/upgrade_kind deploy-full/stop deploy-full/rotate deploy-full/pre_commands
deploy-full/start deploy-full/finish deploy-full/cleared"
set -- $FULL_POINTS
for hp in $HOT_POINTS ""; do
        if [ -n "$hp" ]; then
                ok_before=$(history_count hotapp '.version == "1.0.1" and .result == "ok"')
                crash_daemon "${hp%%+*}"
                hot_publish hotapp 1.0.1 '["eval hotapp_release:migrate()"]'
                after_crash "${hp%%+*}"
                case "$hp" in *+*)
                        crash_daemon "${hp#*+}"
                        after_crash "${hp#*+}" ;;
                esac
                start_daemon
                converged hotapp 1.0.1 "$hp"
                # One successful deployment of 1.0.1 recorded: hot, or full after an
                # interrupted hot upgrade (whose failure is recorded too, once).
                assert_eq $((ok_before + 1)) \
                        "$(history_count hotapp '.version == "1.0.1" and .result == "ok"')" \
                        "$hp: one 'ok' history line for the deployment of 1.0.1"
                quit_daemon
        fi
        [ $# -gt 0 ] || break
        fp=$1; shift
        ok_before=$(history_count hotapp '.version == "1.0.0" and .result == "ok"')
        crash_daemon "$fp"
        hot_publish hotapp 1.0.0 '["eval hotapp_release:migrate()"]'
        after_crash "$fp"
        # A step in flight: status (reading the records while no daemon runs) names its target.
        case "$fp" in deploy-full/stop | deploy-full/rotate | deploy-full/pre_commands | deploy-full/start)
                assert_eq 1.0.0 "$(app_field hotapp target_version)" "$fp: status --json's target_version" ;;
        esac
        start_daemon
        converged hotapp 1.0.0 "$fp"
        assert_eq $((ok_before + 1)) "$(history_count hotapp '.version == "1.0.0" and .result == "ok"')" \
                "$fp: one 'ok' history line for the deployment of 1.0.0"
        assert_eq 0 "$(history_count hotapp '.version == "1.0.0" and .result != "ok"')" \
                "$fp: no failure recorded for a deployment that did not fail"
        quit_daemon
done
# The hot upgrades really were hot (the first few cycles, at least).
[ "$(history_count hotapp '.kind == "hot" and .result == "ok"')" -ge 3 ] ||
        fail "hot upgrades completed hot: $(dx history --json hotapp)"
ok

# --- rollback: a version that crashes at boot is ghosted, 1.0.0 comes back ---
v=1
for rp in rollback/begin rollback/stop rollback/rotate rollback/start rollback/finish \
        rollback/cleared; do
        v=$((v + 1)); bad=1.0.$v
        crash_daemon "$rp"
        publish_demo "$bad" crash
        after_crash "$rp"
        start_daemon
        converged demo 1.0.0 "$rp"
        wait_for 30 "dx ghosts --json demo | jq -e 'map(.version) | index(\"$bad\")'" "$bad ghosted"
        assert_eq 1 "$(history_count demo ".kind == \"rollback\" and .from == \"$bad\" and .result == \"ok\"")" \
                "$rp: one rollback from $bad in the history"
        assert_eq 1 "$(history_count demo ".version == \"$bad\" and .kind == \"full\" and .result == \"failed\"")" \
                "$rp: one failed deployment of $bad in the history"
        quit_daemon
done
[ "$POINTS" -ge 20 ] || fail "only $POINTS crash points ran"
ok
echo "crash points: $POINTS"
finish
