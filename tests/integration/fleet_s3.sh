# Fleet rollouts on an s3:// bucket (s3rver behind the SigV4-verifying front):
# see fleet_cloud.inc for what is checked and how hosts reach the peer.
BACKEND=s3
. "$DEPLOYEX_TOP/tests/integration/fleet_cloud.inc"
