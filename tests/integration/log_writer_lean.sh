# deployex-log as it ships (the program the daemon runs once per instance, beside deployexd):
# a static PIE, because its memory is multiplied by the fleet; 20 writers side by side stay
# within issue 12's budget of 40 kB PSS per instance; and it copies both streams of an
# instance losslessly through rotations, in ragged pieces and with lines longer than its
# buffers, ending 0 at EOF.  (`deployex __log`, the same code under ASan: logs_cli.)
. "$DEPLOYEX_TOP/tests/integration/lib.sh"

LOGW="$(dirname "$DEPLOYEX")/deployex-log"
[ -x "$LOGW" ] || fail "$LOGW is missing: make builds it beside deployex"

# Static: no interpreter, no shared library, and still PIE, RELRO, BIND_NOW and a stack
# protector (scripts/static-pie-check); a dynamically linked writer costs 105 kB private.
"$DEPLOYEX_TOP/scripts/static-pie-check" "$LOGW" || fail "deployex-log is not a hardened static PIE"
ok
assert_contains "$(ldd "$LOGW" 2>&1)" "statically linked" "ldd: deployex-log loads no library"

# Writers as the daemon runs them (stdout on fd 0, stderr on fd 3), with a small
# environment as under systemd; each gets a few lines on both streams and writes them
# before its memory is read.  Prints: writers, Pss total kB, private total kB, then after
# EOF the exit codes that were not 0.
python3 - "$LOGW" "$T/fleet" 20 >"$T/fleet.out" 2>"$T/fleet.err" <<'EOF' || fail "writers: $(cat "$T/fleet.err")"
import os, subprocess, sys, time
writer, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
procs = []
for i in range(n):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    base = f"{root}/app/app-{i}"
    p = subprocess.Popen([writer, base + "-stdout.log", base + "-stderr.log", "1048576", "5"],
                         stdin=out_r, close_fds=False, env={"PATH": "/usr/bin:/bin"},
                         preexec_fn=lambda e=err_r: os.dup2(e, 3))
    os.close(out_r)
    os.close(err_r)
    procs.append((p, out_w, err_w, base))
for p, out_w, err_w, base in procs:
    for k in range(5):
        os.write(out_w, b"out line %d\n" % k)
        os.write(err_w, b"err line %d\n" % k)
def lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0
for p, out_w, err_w, base in procs:
    # No deadline of its own: the test runner's timeout ends a writer that never writes.
    while lines(base + "-stdout.log") < 5 or lines(base + "-stderr.log") < 5:
        time.sleep(0.01)
pss = private = 0
for p, out_w, err_w, base in procs:
    with open(f"/proc/{p.pid}/smaps_rollup") as f:
        for line in f:
            k, v = line.split()[:2]
            if k == "Pss:":
                pss += int(v)
            elif k in ("Private_Clean:", "Private_Dirty:"):
                private += int(v)
print(n, pss, private)
for p, out_w, err_w, base in procs:
    os.close(out_w)
    os.close(err_w)
print(" ".join(str(p.wait()) for p, _, _, _ in procs if p.wait() != 0))
EOF
read -r n pss private <"$T/fleet.out"
assert_eq "20" "$n" "writers measured"
echo "20 writers: Pss $pss kB, private $private kB"
[ "$pss" -le $((40 * n)) ] || fail "20 log writers use $((pss / n)) kB PSS each, over the 40 kB budget (private: $((private / n)) kB)"
ok
assert_eq "" "$(sed -n 2p "$T/fleet.out")" "every writer exits 0 at EOF"

# Lossless: 20000 lines on each stream, sent in ragged pieces, the two streams interleaved,
# with lines of 20000 and 70000 bytes (beyond the read and stamping buffers) among them and a
# last line without its newline; rotations above 100000 bytes, 50 kept.
O="$T/log/two/two-1-stdout.log" E="$T/log/two/two-1-stderr.log"
python3 - "$LOGW" "$O" "$E" "$T/out.want" "$T/err.want" 2>"$T/two.err" <<'EOF' || fail "two streams: $(cat "$T/two.err")"
import os, random, subprocess, sys
writer, o, e, out_want, err_want = sys.argv[1:6]
def stream(name):
    lines = [b"%s %d\n" % (name, i) for i in range(1, 20001)]
    lines[5000] = name + b" long " + b"x" * 20000 + b"\n"
    lines[15000] = name + b" longer " + b"y" * 70000 + b"\n"
    return b"".join(lines) + name + b" the very last words"
want = {b"out": stream(b"out"), b"err": stream(b"err")}
with open(out_want, "wb") as f:
    f.write(want[b"out"])
with open(err_want, "wb") as f:
    f.write(want[b"err"])
out_r, out_w = os.pipe()
err_r, err_w = os.pipe()
p = subprocess.Popen([writer, o, e, "100000", "50"], stdin=out_r, close_fds=False,
                     preexec_fn=lambda: os.dup2(err_r, 3))
os.close(out_r)
os.close(err_r)
rnd = random.Random(12)
pos = {out_w: 0, err_w: 0}
data = {out_w: want[b"out"], err_w: want[b"err"]}
while pos:
    fd = rnd.choice(sorted(pos))
    piece = rnd.randint(1, 9000)
    done = os.write(fd, data[fd][pos[fd]:pos[fd] + piece])
    pos[fd] += done
    if pos[fd] == len(data[fd]):
        os.close(fd)
        del pos[fd]
sys.exit(p.wait())
EOF
ok
assert_eq "" "$(cat "$T/two.err")" "the writer has nothing to complain about"
# Oldest first: PATH.k ... PATH.1, PATH; each line carries its stamp.
in_order() {
        for f in $(ls "$1".* 2>/dev/null | sort -t. -k3 -rn) "$1"; do cat "$f"; done |
                sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z //'
}
[ -f "$O.5" ] && [ -f "$E.5" ] || fail "both streams rotated several times"
ok
for f in "$O" "$O".* "$E" "$E".*; do
        [ "$(grep -c '' "$f")" = "$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z ' "$f")" ] ||
                fail "$f has a line without its stamp (a line split across files or pieces)"
done
ok
in_order "$O" >"$T/out.got"
in_order "$E" >"$T/err.got"
cmp -s "$T/out.want" "$T/out.got" || fail "stdout lost, split or reordered bytes: $(cmp "$T/out.want" "$T/out.got")"
cmp -s "$T/err.want" "$T/err.got" || fail "stderr lost, split or reordered bytes: $(cmp "$T/err.want" "$T/err.got")"
ok

run 2 "$LOGW" "$O" 0 3
assert_contains "$ERR" "usage: " "bad arguments: usage"
run 2 "$LOGW" "$O" "$E" 100 3 3<&-
assert_contains "$ERR" "descriptor 3" "two paths need the second stream on fd 3"
finish
