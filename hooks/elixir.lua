-- deployex default hooks for Elixir releases (mix release).
--
-- common.lua (the same directory) is loaded before this file: release_unset,
-- run_commands, release_root, file_exists, upgrade_kind, hot_upgrade and the
-- rest of the hot-upgrade sequence live there.  What is Elixir's own is
-- here: the environment, the start command and how a pre-command runs.  An
-- app's own hooks file (the "hooks" field of its config) is loaded after
-- both: any function it defines replaces the one here, and the original
-- stays callable as deployex.default.NAME(ctx).  See docs/hooks.md.

-- The environment of everything run for an instance: the app's env, its
-- ports, and the node identity.
function release_env(ctx)
        local env = {}
        for k, v in pairs(ctx.env) do env[k] = v end
        for name, port in pairs(ctx.ports) do env[name] = tostring(port) end
        env.RELEASE_NODE = ctx.sname
        env.RELEASE_DISTRIBUTION = "sname"
        env.RELEASE_COOKIE = ctx.cookie
        env.RELEASE_TMP = ctx.dirs.tmp
        env.HOME = cookie_home(ctx)
        return with_tls_dist(ctx, env)
end

-- The release version a root runs (releases/start_erl.data holds
-- "ERTS_VSN REL_VSN").
function release_vsn(root)
        local data = deployex.read_file(root .. "/releases/start_erl.data")
        return data and data:match("^%s*%S+%s+(%S+)")
end

-- `bin/APP start` and `bin/APP eval` pass `--cookie $RELEASE_COOKIE` to the
-- release's elixir launcher, which turns it into -setcookie: the cookie
-- would be on the command line of three processes, beam.smp included, for
-- any local user to read.  So deployex runs the launcher itself, with the
-- same flags and environment as the script, minus --cookie; the VM reads
-- its cookie from $HOME/.erlang.cookie (cookie_home in common.lua).  What
-- the script's export_release_sys_config does is done here too: a
-- sys.config marked RUNTIME_CONFIG=true is copied to RELEASE_TMP first,
-- since the config provider rewrites it.  releases/VSN/env.sh is not
-- sourced: set what it would set in the app's "env" instead.
function launcher(ctx, root, env, command)
        local vsn = release_vsn(root)
        if not vsn then error(("%s: no releases/start_erl.data"):format(root), 0) end
        local dir = root .. "/releases/" .. vsn
        env.RELEASE_ROOT = root
        env.RELEASE_NAME = ctx.app
        env.RELEASE_VSN = vsn
        env.RELEASE_COMMAND = command
        env.RELEASE_PROG = ctx.app
        env.RELEASE_MODE = env.RELEASE_MODE or "embedded"
        env.RELEASE_VM_ARGS = dir .. "/vm.args"
        env.RELEASE_REMOTE_VM_ARGS = dir .. "/remote.vm.args"
        env.RELEASE_BOOT_SCRIPT = "start"
        env.RELEASE_BOOT_SCRIPT_CLEAN = "start_clean"
        local sys = dir .. "/sys"
        local text = deployex.read_file(sys .. ".config") or ""
        if text:find("RUNTIME_CONFIG=true", 1, true) then
                local copy = ("%s/%s-%s.runtime"):format(ctx.dirs.tmp, ctx.app, vsn)
                local r = deployex.exec({ "cp", sys .. ".config", copy .. ".config" },
                        { timeout_ms = 10000 })
                if not r.ok then error(("cannot copy %s.config: %s"):format(sys, r.error), 0) end
                sys = copy
        end
        env.RELEASE_SYS_CONFIG = sys
        return dir, sys
end

-- What `bin/myapp start` runs (the foreground form: the process deployex
-- starts becomes the VM, and SIGTERM stops it cleanly), without --cookie.
function start(ctx)
        local tls_problem = tls_release_problem(ctx, ctx.dirs.current)
        if tls_problem then return nil, tls_problem end
        local root = ctx.dirs.current
        local env = release_env(ctx)
        local dir, sys = launcher(ctx, root, env, "start")
        return {
                argv = { dir .. "/elixir",
                        "--sname", ctx.sname,
                        "--erl", "-mode " .. env.RELEASE_MODE,
                        "--erl-config", sys,
                        "--boot", dir .. "/start",
                        "--boot-var", "RELEASE_LIB", root .. "/lib",
                        "--vm-args", env.RELEASE_VM_ARGS,
                        "--no-halt" },
                env = env,
                unset = release_unset,
                cwd = root,
        }
end

-- Each entry of current.json's pre_commands is a release command:
-- "eval MyApp.Release.migrate()" runs `bin/myapp eval 'MyApp.Release.migrate()'`
-- (a fresh VM with the app's code, the app itself not started).
-- "eval EXPR" runs what `bin/myapp eval` runs, without --cookie (see
-- launcher); any other verb goes to the release script as it is.
function pre_command_argv(ctx, command, root, env)
        local verb, rest = command:match("^%s*(%S+)%s*(.-)%s*$")
        if not verb then return nil end
        if verb == "eval" and rest ~= "" then
                local dir, sys = launcher(ctx, root, env, "eval")
                return { dir .. "/elixir",
                        "--erl-config", sys,
                        "--boot", dir .. "/start_clean",
                        "--boot-var", "RELEASE_LIB", root .. "/lib",
                        "--vm-args", env.RELEASE_VM_ARGS,
                        "--eval", rest }
        end
        local argv = { "bin/" .. ctx.app, verb }
        if rest ~= "" then argv[#argv + 1] = rest end
        return argv
end

function pre_commands(ctx)
        local root = release_root(ctx)
        local env = release_env(ctx)
        local commands = {}
        for _, command in ipairs(ctx.pre_commands or {}) do
                local argv = pre_command_argv(ctx, command, root, env)
                if not argv then return nil, ("pre-command '%s' is empty"):format(command) end
                commands[#commands + 1] = { label = command, argv = argv }
        end
        return run_commands(ctx, commands, root, env)
end

-- The ERTS version a release root runs on (releases/start_erl.data holds
-- "ERTS_VSN REL_VSN"), or nil.  common.lua's release_erts falls back on it.
function erts_version(root)
        local data = deployex.read_file(root .. "/releases/start_erl.data")
        return data and data:match("^%s*(%S+)")
end
