#!/usr/bin/env python3
"""Writes a synthetic release tree, deterministic for a given seed:
   gen_release.py DIR [SEED]

The shape of a big OTP release: releases/, bin/, an erts-like directory with
a few large binaries, and lib/APP-VSN/ebin/*.beam for many applications, with
priv/ files here and there.  About 51 MB in about 3 400 files; the contents
mix incompressible bytes with text-like runs, so that gzip shrinks the whole
roughly as much as it shrinks real .beam files (2-3x).
"""
import os
import random
import sys

TOTAL_BYTES = 50 * 1024 * 1024


def content(rng, words, size):
    """size bytes: about an eighth random, the rest words from a small vocabulary."""
    out = bytearray()
    while len(out) < size:
        n = min(size - len(out), rng.randint(256, 4096))
        if rng.random() < 0.12:
            out += rng.randbytes(n)
        else:
            chunk = " ".join(rng.choices(words, k=n // 6 + 1)).encode()
            out += chunk[:n]
    return bytes(out)


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def main():
    root = sys.argv[1]
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 42)
    letters = "abcdefghijklmnopqrstuvwxyz_"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 12))) for _ in range(3000)]
    written = 0

    write(f"{root}/releases/1.0.0/start.boot", content(rng, words, 120_000))
    write(f"{root}/releases/1.0.0/sys.config", b"[].\n")
    write(f"{root}/releases/1.0.0/vm.args", b"-sname big\n")
    write(f"{root}/releases/start_erl.data", b"13.1.5 1.0.0\n")
    write(f"{root}/bin/big", b"#!/bin/sh\nexec sleep 3600\n", 0o755)
    # A few large binaries, as an embedded ERTS has.
    for name, size in (("beam.smp", 6_000_000), ("erlexec", 1_500_000), ("epmd", 500_000),
                       ("inet_gethost", 400_000)):
        write(f"{root}/erts-13.1.5/bin/{name}", content(rng, words, size), 0o755)
        written += size
    apps = 0
    while written < TOTAL_BYTES:
        apps += 1
        app = f"{rng.choice(words)}_{apps}-{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        for m in range(rng.randint(10, 60)):
            size = min(int(rng.lognormvariate(9.0, 1.0)), 400_000)  # median ~8 kB
            write(f"{root}/lib/{app}/ebin/m{m}_{rng.choice(words)}.beam", content(rng, words, size))
            written += size
        write(f"{root}/lib/{app}/ebin/{app.split('-')[0]}.app", b"{application, x, []}.\n")
        if rng.random() < 0.2:
            size = rng.randint(10_000, 300_000)
            write(f"{root}/lib/{app}/priv/data.bin", content(rng, words, size))
            written += size


if __name__ == "__main__":
    main()
