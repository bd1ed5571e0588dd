# Fleet rollouts on an s3:// bucket: a daemon killed while it waits resumes its
# slot once restarted; the canary's daemon, stopped in its turn, goes stale,
# and a successor abandons its slot with a compare-and-swap and fails the
# version for the fleet (fleet_cloud.inc, SCENARIO=canary_stop).
BACKEND=s3
SCENARIO=canary_stop
. "$DEPLOYEX_TOP/tests/integration/fleet_cloud.inc"
