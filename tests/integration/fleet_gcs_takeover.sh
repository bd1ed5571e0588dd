# Fleet rollouts on a gs:// bucket: a stopped daemon's slot is taken over with a
# compare-and-swap on the tag read (fleet_cloud.inc, SCENARIO=takeover).
BACKEND=gcs
SCENARIO=takeover
. "$DEPLOYEX_TOP/tests/integration/fleet_cloud.inc"
