#!/bin/sh
# The unit (examples/systemd/deployex.service, packaged with /usr/bin paths):
# systemd-analyze rates its exposure 3.5 or better; nothing in it can keep the
# daemon from starting during a bucket outage (no ExecStartPre); it reads the
# environment mode's file, delegates its cgroup, and bounds root's capabilities.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"

unit="$DEPLOYEX_TOP/examples/systemd/deployex.service"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (scripts/install-deps installs systemd)"
# --threshold is in tenths: 35 = an overall exposure of 3.5.
systemd-analyze security --offline=true --threshold=35 "$unit" >"$T/analyze" 2>&1 ||
        fail "exposure above 3.5: $(tail -n 1 "$T/analyze")"
ok
echo "systemd-analyze: $(tail -n 1 "$T/analyze")"
u=$(grep -v '^#' "$unit")
assert_not_contains "$u" "ExecStartPre=" "an ExecStartPre (a check fails while the bucket is down)"
assert_contains "$u" "EnvironmentFile=-/etc/default/deployex" "the environment mode's file"
assert_contains "$u" "Delegate=yes" "cgroup delegation"
assert_contains "$u" "KillMode=process" "SIGTERM to the daemon alone"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
assert_eq "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_KILL CAP_SETUID CAP_SETGID" "$caps" "the bounding set"
for rw in /var/lib/deployex /var/log/deployex /etc/deployex/overrides.d; do
        assert_contains "$(sed -n 's/^ReadWritePaths=//p' "$unit")" "$rw" "ReadWritePaths"
done
finish
