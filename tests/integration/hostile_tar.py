"""Writes one hostile release tarball: python3 hostile_tar.py KIND OUT TARGET_DIR.

KIND names the escape; TARGET_DIR is where a successful escape would write.
Used by daemon_bad_input.sh; the unpacker must refuse every one of them.
"""
import io
import os
import sys
import tarfile

kind, out, target = sys.argv[1], sys.argv[2], sys.argv[3]


def add_file(tar, name, data=b"pwned\n", mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def add_link(tar, name, target_path, kind_type):
    info = tarfile.TarInfo(name)
    info.type = kind_type
    info.linkname = target_path
    tar.addfile(info)


with tarfile.open(out, "w:gz") as tar:
    add_file(tar, "bin/demo", b"#!/bin/sh\nexit 0\n", 0o755)
    if kind == "absolute":
        add_file(tar, os.path.join(target, "pwned-absolute"))
    elif kind == "dotdot":
        add_file(tar, "releases/../../../../../../outside/pwned-dotdot")
    elif kind == "symlink":
        add_link(tar, "escape", target, tarfile.SYMTYPE)
        add_file(tar, "escape/pwned-symlink")
    elif kind == "hardlink":
        add_link(tar, "passwd", "/etc/passwd", tarfile.LNKTYPE)
    elif kind == "device":
        info = tarfile.TarInfo("dev/null-again")
        info.type = tarfile.CHRTYPE
        info.devmajor, info.devminor = 1, 3
        tar.addfile(info)
    elif kind == "setuid":
        add_file(tar, "bin/root-shell", b"#!/bin/sh\n", 0o4755)
    elif kind == "oversize":
        # 80 MiB of zeros: tiny compressed, over the test's 64 MiB max_unpacked_bytes.
        add_file(tar, "lib/zeros", b"\0" * (80 << 20))
    else:
        sys.exit("unknown kind " + kind)
