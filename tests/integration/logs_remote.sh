# Looking into an instance: `deployex __unpack` puts a real Erlang release in
# place (and refuses hostile tarballs), `deployex remote` builds the right
# command for each language (--dry-run, cookie masked) and really opens a
# remote shell on a running release node, which outlives the shell.
. "$DEPLOYEX_TOP/tests/integration/lib.sh"

# Instance 9 of "demo": a node name no other test uses (demo-1..3 are common).
N=9
PORT=47399
COOKIE="remote-cookie-$$"
mkdir -p "$T/var" "$T/log" "$T/overrides"
cat >"$T/deployex.json" <<JSON
{"env": "prod", "source": "file://$T/bucket", "var_path": "$T/var", "log_path": "$T/log",
 "overrides_path": "$T/overrides", "cookie": "$COOKIE",
 "apps": [{"name": "demo", "language": "erlang", "user": "root", "replicas": $N, "ports": {"PORT": 47391}},
          {"name": "ex", "language": "elixir", "user": "root", "replicas": 1},
          {"name": "gl", "language": "gleam", "user": "root", "replicas": 1}]}
JSON
SVC="$T/var/service/demo/$N"
mkdir -p "$SVC/tmp"

# Errors before anything is deployed.
run 2 dx remote demo
run 2 dx remote demo x
run 2 dx remote demo 1 --bogus
run 1 dx remote nosuch 1
run 1 dx remote demo 10
assert_contains "$ERR" "demo has no instance 10" "instance out of range"
run 1 dx remote demo $N
assert_eq "deployex remote: demo/$N has no current release (nothing at $SVC/current)" "$ERR" "not deployed"

# __unpack: hostile tarballs are refused with one line naming the member, leaving nothing.
mkdir -p "$T/evil/d"
ln -s /etc "$T/evil/d/etc"
tar czf "$T/evil-link.tar.gz" -C "$T/evil" d
(cd "$T/evil/d" && tar czPf "$T/evil-dotdot.tar.gz" ../d 2>/dev/null)
for t in "evil-link:symlink to an absolute path" "evil-dotdot:'..' component"; do
        reason=${t#*:}; t=${t%%:*}
        run 1 "$DEPLOYEX" __unpack "$T/$t.tar.gz" "$SVC/current" 100000000
        assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l | tr -d ' ')" "$t: one line"
        assert_contains "$ERR" "$T/$t.tar.gz: member '" "$t: names the tarball and member"
        assert_contains "$ERR" "$reason" "$t: the reason"
        [ ! -e "$SVC/current" ] || fail "$t: left $SVC/current behind"
        [ -z "$(ls -A "$SVC" | grep -v '^tmp$')" ] || fail "$t: left $(ls -A "$SVC") behind"
        ok
done
run 2 "$DEPLOYEX" __unpack "$T/x.tar.gz" "$SVC/current" lots
# A failure of this host, not of the archive, has its own exit status (the daemon retries).
run 75 "$DEPLOYEX" __unpack "$T/evil-link.tar.gz" "$T/no/such/dir/current" 100000000
assert_contains "$ERR" "$T/no/such/dir/current" "names the destination"
run 75 "$DEPLOYEX" __unpack "$T/missing.tar.gz" "$SVC/current" 100000000

# A real release, unpacked the way the daemon does it.
tarball=$(demo_release 1.0.0)
run 0 "$DEPLOYEX" __unpack "$tarball" "$SVC/current" 1000000000
[ -x "$SVC/current/bin/demo" ] || fail "the release script is in place and executable"
ok
member=$(tar tzf "$tarball" | grep -E '^(\./)?bin/demo$')
sha_tar=$(tar xzOf "$tarball" "$member" | sha256sum)
assert_eq "$sha_tar" "$(sha256sum <"$SVC/current/bin/demo")" "bin/demo unpacked byte for byte"

# --dry-run: the command for each language, the cookie never shown.
# No release script (theirs put -setcookie on the command line): a plain
# remote shell whose HOME holds the cookie (issue 10 item 2).
host=$(hostname | cut -d. -f1)
run 0 dx remote demo $N --dry-run
assert_eq "erl -remsh demo-$N@$host -sname" "$(jqr "$OUT" '.argv[0:4] | join(" ")')" "erlang: erl -remsh NODE"
assert_eq "$SVC/home" "$(jqr "$OUT" '.env.HOME')" "erlang: HOME is the cookie home"
assert_not_contains "$(jqr "$OUT" '.argv | join(" ")')" "cookie" "erlang: no cookie in argv"
assert_eq "demo-$N" "$(jqr "$OUT" '.env.RELEASE_NODE')" "RELEASE_NODE"
assert_eq "sname" "$(jqr "$OUT" '.env.RELEASE_DISTRIBUTION')" "RELEASE_DISTRIBUTION"
assert_eq "$SVC/tmp" "$(jqr "$OUT" '.env.RELEASE_TMP')" "RELEASE_TMP"
assert_eq "********" "$(jqr "$OUT" '.env.RELEASE_COOKIE')" "cookie masked"
assert_eq "$SVC/current" "$(jqr "$OUT" '.cwd')" "cwd"
assert_contains "$(jqr "$OUT" '.unset | join(" ")')" "RELEASE_* BINDIR ROOTDIR ELIXIR_ERL_OPTIONS" "unset"
assert_not_contains "$OUT" "$COOKIE" "the cookie is not printed"
mkdir -p "$T/var/service/ex/1/current/releases" "$T/var/service/gl/1/current"
echo "13.1.5 0.1.0" >"$T/var/service/ex/1/current/releases/start_erl.data"
run 0 dx remote ex 1 --dry-run
ex=$T/var/service/ex/1/current
assert_eq "$ex/releases/0.1.0/iex --werl --hidden --sname" "$(jqr "$OUT" '.argv[0:4] | join(" ")')" "elixir: the release's iex"
assert_eq "--remsh ex-1@$host" "$(jqr "$OUT" '.argv[-2:] | join(" ")')" "elixir: --remsh NODE"
assert_not_contains "$(jqr "$OUT" '.argv | join(" ")')" "cookie" "elixir: no cookie in argv"
rm "$T/var/service/ex/1/current/releases/start_erl.data"; rmdir "$T/var/service/ex/1/current/releases"
run 0 dx remote gl 1 --dry-run
assert_eq "erl -remsh gl-1@$host" "$(jqr "$OUT" '.argv[0:3] | join(" ")')" "gleam: erl -remsh NODE"
assert_not_contains "$(jqr "$OUT" '.argv | join(" ")')" "cookie" "gleam: no cookie in argv"
assert_not_contains "$OUT" "$COOKIE" "the cookie is not printed (gleam)"
# TLS: the app's distribution options file is written (0600) and passed on.
mkdir -p "$T/var/tls"
jq --arg d "$T/var/tls" '. + {tls: {cert: ($d + "/c.pem"), key: ($d + "/k.pem"), ca: ($d + "/ca.pem")}}' \
        "$T/deployex.json" >"$T/tls.json"
touch "$T/var/tls/c.pem" "$T/var/tls/k.pem" "$T/var/tls/ca.pem"
run 0 "$DEPLOYEX" -c "$T/tls.json" remote gl 1 --dry-run
assert_contains "$(jqr "$OUT" '.argv | join(" ")')" "-proto_dist inet_tls -ssl_dist_optfile $T/var/tls/gl.ssl_dist.conf" "gleam: tls options"
assert_eq "600" "$(stat -c %a "$T/var/tls/gl.ssl_dist.conf")" "the options file is 0600"
assert_contains "$(cat "$T/var/tls/gl.ssl_dist.conf")" "{certfile, \"$T/var/tls/c.pem\"}" "the options file names the certificate"
run 0 "$DEPLOYEX" -c "$T/tls.json" remote demo $N --dry-run
assert_contains "$(jqr "$OUT" '.argv | join(" ")')" "-proto_dist inet_tls -ssl_dist_optfile $T/var/tls/demo.ssl_dist.conf" "erlang: tls options on erl's command line"

# The real thing: start the release as the daemon would, then a remote shell on a pty.
command -v script >/dev/null 2>&1 || fail "no script(1) for a pty (util-linux's bsdutils)"
epmd -daemon
# As the start hook does: the cookie in HOME/.erlang.cookie, not on argv.
mkdir -p -m 700 "$SVC/home" && printf '%s' "$COOKIE" >"$SVC/home/.erlang.cookie" && chmod 400 "$SVC/home/.erlang.cookie"
(cd "$SVC/current" && exec env -u BINDIR -u ROOTDIR RELEASE_NODE=demo-$N RELEASE_DISTRIBUTION=sname \
        HOME="$SVC/home" RELEASE_COOKIE="$COOKIE" RELEASE_TMP="$SVC/tmp" RELX_REPLACE_OS_VARS=true PORT=$PORT \
        setsid bin/demo foreground >"$T/node.log" 2>&1) &
NODE_PID=$!
KILL_GROUPS="${KILL_GROUPS:-} $NODE_PID"
wait_for 30 "epmd -names | grep -q 'name demo-$N '" "the release node to register"
wait_for 10 "[ -n \"\$(answer $PORT)\" ]" "the release to answer on its port"

# remote_shell APP N EXPR WANT: a remote shell on a pty; EXPR runs on the
# instance and WANT must show up; then ^G q, which ends the shell only.
remote_shell() {
        rm -f "$T/in"
        mkfifo "$T/in"
        # A wrong inherited cookie and BINDIR must not leak into the shell's environment.
        RELEASE_COOKIE=wrong BINDIR=/nonexistent script -q -c "$DEPLOYEX -c $T/deployex.json remote $1 $2" \
                /dev/null <"$T/in" >"$T/remote-$1.out" 2>&1 &
        shell_pid=$!
        exec 5>"$T/in"
        wait_for 30 "grep -q '($1-$2@' '$T/remote-$1.out'" "the $1 remote shell prompt"
        printf '%s\n' "$3" >&5
        wait_for 10 "grep -q \"$4\" '$T/remote-$1.out'" "the command to run on $1-$2"
        printf '\007' >&5
        sleep 0.3
        printf 'q\n' >&5
        wait_for 10 "! kill -0 $shell_pid" "the $1 remote shell to end"
        exec 5>&-
}
remote_shell demo $N 'io:format("remote-node=~p~n",[node()]).' "remote-node='demo-$N@"
kill -0 $NODE_PID 2>/dev/null || fail "the instance died with the remote shell"
ok
assert_contains "$(answer $PORT)" "demo 1.0.0" "the instance still answers"

# Elixir: a minimal mix release (built once, offline, cached with the other fixtures).
command -v mix >/dev/null 2>&1 || fail "no mix (scripts/install-deps installs elixir)"
EXREL="$FIXTURES/elixir-remote/ex"
if [ ! -x "$EXREL/bin/ex" ]; then
        src="$T/ex-src"
        mkdir -p "$src/lib"
        cat >"$src/mix.exs" <<'EXS'
defmodule Ex.MixProject do
  use Mix.Project
  def project, do: [app: :ex, version: "0.1.0", deps: [], releases: [ex: [steps: [:assemble]]]]
  def application, do: [extra_applications: [:logger]]
end
EXS
        printf 'defmodule Ex do\n  def hello, do: :world\nend\n' >"$src/lib/ex.ex"
        (cd "$src" && HOME="$src" MIX_HOME="$src/.mix" MIX_ENV=prod mix release --quiet >"$T/mix.log" 2>&1) ||
                { cat "$T/mix.log" >&2; fail "cannot build the Elixir release"; }
        mkdir -p "$FIXTURES/elixir-remote"
        rm -rf "$EXREL"
        cp -r "$src/_build/prod/rel/ex" "$EXREL"
fi
rmdir "$T/var/service/ex/1/current"
cp -r "$EXREL" "$T/var/service/ex/1/current"
mkdir -p "$T/var/service/ex/1/tmp"
sed -i 's/"name": "ex", "language": "elixir", "user": "root", "replicas": 1/"name": "ex", "language": "elixir", "user": "root", "replicas": 8/' "$T/deployex.json"
mv "$T/var/service/ex/1" "$T/var/service/ex/8"
(cd "$T/var/service/ex/8/current" && exec env RELEASE_NODE=ex-8 RELEASE_DISTRIBUTION=sname \
        RELEASE_COOKIE="$COOKIE" RELEASE_TMP="$T/var/service/ex/8/tmp" setsid bin/ex start >"$T/ex.log" 2>&1) &
EX_PID=$!
KILL_GROUPS="${KILL_GROUPS:-} $EX_PID"
wait_for 30 "epmd -names | grep -q 'name ex-8 '" "the Elixir node to register"
remote_shell ex 8 'IO.puts("remote-node=#{node()}")' "remote-node=ex-8@"
kill -0 $EX_PID 2>/dev/null || fail "the Elixir instance died with the remote shell"
ok
finish
