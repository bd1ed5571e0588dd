#!/bin/sh
# Hooks that cannot be loaded are this host's fault, not the release's: with
# no hooks files where the hook runner looks (a broken installation), a new
# version is deferred and retried, never ghosted, and status says why; once
# the files are back the retry deploys it, with no restart of the daemon.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"
epmd -daemon
BASE=48160

mkdir -p "$T/hooks"
demo_config 1 $BASE
DEPLOYEX_HOOKS_PATH="$T/hooks" start_daemon
publish_demo 1.0.0
wait_for 60 "grep -q 'cannot pre-flight 1.0.0: .*hooks' '$T/daemon.log'" "the deployment to be deferred"
run 0 dx ghosts --json demo
assert_eq "0" "$(jqr "$OUT" 'length')" "ghosts after a hooks load failure"
assert_contains "$(inst_field 1 last_error.text)" "cannot pre-flight 1.0.0" "status names the deferral"
assert_eq "0" "$(vm_count demo 1)" "VMs started without hooks"

# The installation repaired: the next retry (5 s after the first failure) deploys.
cp "$DEPLOYEX_TOP"/hooks/*.lua "$T/hooks/"
wait_for 90 "all_running 1 1.0.0" "1.0.0 to run once the hooks are back"
run 0 dx ghosts --json demo
assert_eq "0" "$(jqr "$OUT" 'length')" "ghosts after the retry"
finish
