# deployex logs against files written by the real log writer (deployex __log):
# argument errors, tails, --stderr, -f across rotations (bursts included),
# the end of -f on SIGTERM and on a closed stdout; the writer itself ignores
# SIGTERM and flushes a partial last line at EOF; one writer takes both streams
# of an instance losslessly.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"

write_config 2
LOG="$T/log/myapp/myapp-1-stdout.log"

# The writer stamps each line with the time it came: strip it to compare text.
unstamp() { sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z //'; }
# What `logs` prints, one instance or all (DESIGN §3): "TIME [N] text", TIME "-" before any stamp.
unprefix() { sed -E 's/^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z|-) +\[[0-9]+\] //'; }

# Errors: usage (2), unknown app / instance / no log yet (1).
run 2 dx logs
assert_contains "$ERR" "usage: deployex" "usage printed"
run 1 dx logs myapp
assert_contains "$ERR" "no log yet for any instance of myapp" "no instance has a log yet"
run 2 dx logs myapp 1 --bogus
run 2 dx logs myapp one
run 2 dx logs myapp 1 -n
run 2 dx logs myapp 1 -n many
run 2 dx logs myapp 1 2
run 1 dx logs nosuch 1
assert_contains "$ERR" "unknown app 'nosuch'" "unknown app named"
run 1 dx logs myapp 3
assert_contains "$ERR" "myapp has no instance 3" "instance out of range"
run 1 dx logs myapp 0
run 1 dx logs myapp 1
assert_eq "deployex logs: no log yet at $LOG" "$ERR" "missing log file"

# The writer: its own directory, 0640 files (group deployex reads logs), rotation above 700
# bytes, 20 kept.
mkfifo "$T/feed"
"$DEPLOYEX" __log "$LOG" 700 20 <"$T/feed" 2>"$T/writer.err" &
WPID=$!
exec 4>"$T/feed"
i=1
while [ $i -le 20 ]; do echo "line $i" >&4; i=$((i + 1)); done
wait_for 5 "grep -q ' line 20\$' '$LOG'" "the writer to write"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z line 20$' "$LOG" || fail "lines are stamped: $(head -1 "$LOG")"
ok
assert_eq "640" "$(stat -c %a "$LOG")" "log file mode"
assert_eq "750" "$(stat -c %a "$T/log/myapp")" "log directory mode"

run 0 dx logs myapp 1 -n 3
assert_eq "line 18
line 19
line 20" "$(printf '%s\n' "$OUT" | unprefix)" "the last 3 lines"
assert_contains "$(printf '%s\n' "$OUT" | head -1)" "Z [1] line 18" "one instance: each line with its time and instance"
run 0 dx logs myapp 1
assert_eq "20" "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" "default: all 20 (fewer than 50)"
run 0 dx logs myapp 1 -n 0
assert_eq "" "$OUT" "-n 0 prints nothing"
printf 'err one\nerr two\nerr three' >"$T/log/myapp/myapp-1-stderr.log"
run 0 dx logs myapp 1 --stderr -n 2
assert_eq "err two
err three" "$(printf '%s\n' "$OUT" | unprefix)" "--stderr, a last line without newline"

# -f from the current end: a burst of 200 lines means several rotations between
# two looks of the follower; it still prints every line once, in order.
"$DEPLOYEX" -c "$T/deployex.json" logs myapp 1 -f -n 0 >"$T/follow.out" 2>"$T/follow.err" &
FPID=$!
sleep 0.5
i=21
while [ $i -le 220 ]; do echo "line $i" >&4; i=$((i + 1)); done
wait_for 10 "grep -q ' line 220\$' '$T/follow.out'" "the follower to see the last line"
seq 21 220 | sed 's/^/line /' >"$T/want"
unprefix <"$T/follow.out" >"$T/follow.txt"
cmp -s "$T/want" "$T/follow.txt" || { diff "$T/want" "$T/follow.txt" | head >&2; fail "follow output differs"; }
ok
[ -f "$LOG.1" ] && [ -f "$LOG.3" ] || fail "the burst rotated the log several times"
for f in "$LOG" "$LOG".*; do
        [ "$(stat -c %s "$f")" -le 700 ] || fail "$f is over 700 bytes"
        [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || fail "$f ends inside a line"
done
ok
# Every line exactly once across the files, oldest file first.
for f in $(ls "$LOG".* | awk -F. '{ print $NF, $0 }' | sort -rn | cut -d' ' -f2-) "$LOG"; do unstamp <"$f"; done >"$T/all"
seq 1 220 | sed 's/^/line /' >"$T/want_all"
cmp -s "$T/want_all" "$T/all" || fail "the rotated files do not hold lines 1..220 once each in order"
ok

kill -TERM $FPID
wait $FPID; rc=$?
assert_eq 0 "$rc" "the follower exits 0 on SIGTERM"

# -f ends when its reader goes away.
( "$DEPLOYEX" -c "$T/deployex.json" logs myapp 1 -f -n 5 | head -n 2 >"$T/head.out" ) &
HPID=$!
sleep 0.5
echo "line 221" >&4
wait_for 5 "! kill -0 $HPID" "logs -f to end after its reader closed"
assert_eq "line 216
line 217" "$(unprefix <"$T/head.out")" "head saw the start of the tail"

# The writer ignores SIGTERM (the instance's group gets it) and flushes at EOF.
kill -TERM $WPID
sleep 0.2
kill -0 $WPID 2>/dev/null || fail "the log writer died of SIGTERM"
ok
printf 'the very last words' >&4
exec 4>&-
wait $WPID; rc=$?
assert_eq 0 "$rc" "the writer exits 0 at EOF"
assert_eq "the very last words" "$(tail -n 1 "$LOG" | unstamp)" "the partial last line is written at EOF"
assert_eq "" "$(cat "$T/writer.err")" "the writer had nothing to complain about"

# logs APP: every instance merged by the stamps, each line with its time and
# instance; an unstamped line (output the daemon copied in) takes the time of
# the line before it; --since; -f across instances and a rotation.
L1="$T/log/myapp/myapp-1-stdout.log" L2="$T/log/myapp/myapp-2-stdout.log"
rm -f "$L1".*
printf '%s\n' "2026-01-01T00:00:01.000Z a1" "2026-01-01T00:00:03.000Z a3" "copied after a3" \
        "2026-01-01T00:00:05.500Z a5" >"$L1"
printf '%s\n' "2026-01-01T00:00:02.000Z b2" "2026-01-01T00:00:04.000Z b4" >"$L2"
run 0 dx logs myapp
assert_eq "2026-01-01T00:00:01.000Z [1] a1
2026-01-01T00:00:02.000Z [2] b2
2026-01-01T00:00:03.000Z [1] a3
2026-01-01T00:00:03.000Z [1] copied after a3
2026-01-01T00:00:04.000Z [2] b4
2026-01-01T00:00:05.500Z [1] a5" "$OUT" "instances interleaved by time"
run 0 dx logs myapp -n 2
assert_eq "2026-01-01T00:00:04.000Z [2] b4
2026-01-01T00:00:05.500Z [1] a5" "$OUT" "-n: the last lines overall"
run 0 dx logs myapp --since 2026-01-01T00:00:03Z
assert_eq "a3 copied after a3 b4 a5" "$(printf '%s\n' "$OUT" | cut -d' ' -f3- | tr '\n' ' ' | sed 's/ $//')" "--since a time"
run 0 dx logs myapp 2 --since 2026-01-01T00:00:03Z
assert_eq "2026-01-01T00:00:04.000Z [2] b4" "$OUT" "--since on one instance: time and instance too"
run 0 dx logs myapp 1 --as-stored -n 2
assert_eq "copied after a3
2026-01-01T00:00:05.500Z a5" "$OUT" "--as-stored: the lines as the file holds them"
run 2 dx logs myapp --as-stored
run 0 dx logs myapp --since 10m
assert_eq "" "$OUT" "--since a duration: nothing that recent"
run 2 dx logs myapp --since soon
printf 'bad \377 byte\n' >>"$L2"
run 0 dx logs myapp --json -n 3
assert_eq '{"at":"2026-01-01T00:00:04.000Z","instance":2,"stream":"stdout","line":"b4"}
{"at":"2026-01-01T00:00:04.000Z","instance":2,"stream":"stdout","line":"bad � byte"}
{"at":"2026-01-01T00:00:05.500Z","instance":1,"stream":"stdout","line":"a5"}' "$(printf '%s\n' "$OUT" | jq -c .)" "--json, one object a line"
run 0 dx logs myapp 1 --json -n 1
assert_eq "a5 1" "$(jqr "$OUT" '"\(.line) \(.instance)"')" "--json for one instance"

"$DEPLOYEX" -c "$T/deployex.json" logs myapp -f -n 0 >"$T/all.out" 2>"$T/all.err" &
APID=$!
sleep 0.5
printf '%s\n' "2026-01-01T00:00:06.000Z b6" >>"$L2"
wait_for 5 "grep -q 'b6' '$T/all.out'" "the follower to see instance 2"
mv "$L1" "$L1.1"
printf '%s\n' "2026-01-01T00:00:07.000Z a7" >"$L1"
wait_for 5 "grep -q 'a7' '$T/all.out'" "the follower to see instance 1 after its rotation"
kill -TERM $APID
wait $APID
assert_eq "2026-01-01T00:00:06.000Z [2] b6
2026-01-01T00:00:07.000Z [1] a7" "$(cat "$T/all.out")" "-f over every instance, across a rotation"

# One writer for both streams of an instance (stdout on fd 0, stderr on fd 3):
# a burst of 20000 lines on each at once, several rotations of each file; every
# line lands once, in order, in its own stream's files.
O="$T/log/two/two-1-stdout.log"; E="$T/log/two/two-1-stderr.log"
mkfifo "$T/out.fifo" "$T/err.fifo"
"$DEPLOYEX" __log "$O" "$E" 100000 20 <"$T/out.fifo" 3<"$T/err.fifo" 2>"$T/two.err" &
WPID=$!
exec 5>"$T/out.fifo" 6>"$T/err.fifo"
python3 -c '
import os
for i in range(1, 20001):
    os.write(5, b"out %d\n" % i)
    os.write(6, b"err %d\n" % i)'
exec 5>&- 6>&-
wait $WPID
assert_eq "0" "$?" "the two-stream writer ends at EOF on both, nothing lost"
assert_eq "" "$(cat "$T/two.err")" "the two-stream writer has nothing to complain about"
# oldest first: PATH.k ... PATH.1, PATH
in_order() { for f in $(ls "$1".* 2>/dev/null | sort -t. -k3 -rn) "$1"; do cat "$f"; done | unstamp; }
[ -f "$O.2" ] && [ -f "$E.2" ] || fail "both streams rotated more than once"
ok
in_order "$O" >"$T/out.got"
in_order "$E" >"$T/err.got"
seq 1 20000 | sed 's/^/out /' >"$T/out.want"
seq 1 20000 | sed 's/^/err /' >"$T/err.want"
cmp -s "$T/out.want" "$T/out.got" || fail "stdout lost or reordered lines: $(diff "$T/out.want" "$T/out.got" | head -5)"
cmp -s "$T/err.want" "$T/err.got" || fail "stderr lost or reordered lines: $(diff "$T/err.want" "$T/err.got" | head -5)"
ok

# Bad writer arguments are usage errors.
run 2 "$DEPLOYEX" __log "$LOG" 0 3
run 2 "$DEPLOYEX" __log "$LOG" 100 -1
run 2 "$DEPLOYEX" __log "$LOG" "$LOG.err" 100 3 3<&-
assert_contains "$ERR" "descriptor 3" "two paths need the second stream on fd 3"
finish
