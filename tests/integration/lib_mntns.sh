# Sourced first (before lib.sh) by a test that mounts a tmpfs over var_path or
# /var/lib: it runs the test again in a private mount namespace, so that
# nothing it mounts is seen outside it and the mounts go with it.  Without
# root or mount namespaces the test is a skip.
if [ -z "${DEPLOYEX_TEST_MNTNS:-}" ]; then
        if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
                echo "skip: needs root and mount namespaces (unshare -m) for a private tmpfs"
                exit 77
        fi
        DEPLOYEX_TEST_MNTNS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
