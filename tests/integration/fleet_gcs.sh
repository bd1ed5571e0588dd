# Fleet rollouts on a gs:// bucket (the GCS peer, one service account per host):
# see fleet_cloud.inc for what is checked and how hosts reach the peer.
BACKEND=gcs
. "$DEPLOYEX_TOP/tests/integration/fleet_cloud.inc"
