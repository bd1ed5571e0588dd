#!/bin/sh
# The hook sandbox through the real binary: escapes are refused, a memory
# bomb and an endless loop are stopped, every error names the hook file and
# line; the per-app file overrides the default and reaches it through
# deployex.default; the cookie never appears in output; `deployex check`
# reports hook errors as FILE:LINE.
. "$DEPLOYEX_TOP/tests/fixtures/hooks-test-lib.sh"

H="$T/myapp.lua"
hooks_config myapp erlang 47300 "$H"
cat >"$H" <<'LUA'
-- line 1
function try_io(ctx) return io.open("/etc/passwd") end
function try_os(ctx) return os.execute("touch /tmp/deployex-escaped") end
function try_dump(ctx) return string.dump(start) end
function try_bytecode(ctx) local f, e = load("\27LuaT\0\25\147\r\n\26\n") assert(f, e) end
function try_require(ctx) return require("io") end
function bomb(ctx)
  local t = {}
  while true do t[#t + 1] = string.rep("x", 65536) .. #t end
end
function spin(ctx)
  while true do end
end
function start(ctx)
  local r = deployex.default.start(ctx)
  r.env.EXTRA = "from the app's hooks"
  return r
end
function whoami(ctx)
  deployex.log("info", "cookie is " .. ctx.cookie)
  return {cookie = ctx.cookie, node = ctx.node, default_has_start = type(deployex.default.start)}
end
LUA

check_refused() { # function line message
        run 1 dx hook myapp 1 "$1"
        assert_contains "$ERR" "$H:$2: $3" "$1 is refused at its line"
}
check_refused try_io 2 "attempt to index a nil value (global 'io')"
check_refused try_os 3 "attempt to call a nil value (field 'execute')"
check_refused try_dump 4 "attempt to call a nil value (field 'dump')"
check_refused try_bytecode 5 "attempt to load a binary chunk (mode is 't')"
check_refused try_require 6 "attempt to call a nil value (global 'require')"
check_refused bomb 9 "memory limit exceeded (64 MiB)"
check_refused spin 12 "instruction limit exceeded (50000000 instructions)"
[ ! -e /tmp/deployex-escaped ] || fail "os.execute ran"
ok

# The app's start wraps the default one.
run 0 dx hook myapp 2 start
assert_eq '["bin/myapp","foreground"]' "$(jqr "$OUT" '.argv | tojson')" "the default argv"
assert_eq "from the app's hooks" "$(jqr "$OUT" '.env.EXTRA')" "the app's addition"
assert_eq "47301" "$(jqr "$OUT" '.env.PORT')" "instance 2's port"

# The cookie: readable by the hook, masked in the JSON and in the log line.
run 0 dx hook myapp 1 whoami
assert_eq "********" "$(jqr "$OUT" '.cookie')" "cookie masked in the JSON"
assert_eq "myapp-1@$HOST" "$(jqr "$OUT" '.node')" "node name"
assert_eq "function" "$(jqr "$OUT" '.default_has_start')" "deployex.default.start"
assert_contains "$ERR" "cookie is ********" "deployex.log masks the cookie"
assert_not_contains "$OUT$ERR" "$COOKIE" "no cookie anywhere"

run 1 dx hook myapp 1 no_such_hook
assert_contains "$ERR" "hook 'no_such_hook' is not defined" "unknown function"
run 2 dx hook myapp x start
run 1 dx hook myapp 3 start
assert_contains "$ERR" "no instance 3" "instance out of range"

# deployex check loads every hook file and reports errors at FILE:LINE.
run 0 dx check
printf 'function health(ctx)\n  return ctx.ports.PORT >\nend\nstart = 42\n' >"$H"
run 1 dx check
assert_contains "$OUT$ERR" "$H:3: unexpected symbol near 'end'" "check reports the syntax error"
printf 'function health(ctx) return true end\nstart = 42\n' >"$H"
run 1 dx check
assert_contains "$OUT$ERR" "$H:2: hook 'start' must be a function, got number" "check reports the type error"
finish
