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
        return with_tls_dist(ctx, env)
end

-- `bin/myapp start` is the foreground form: the process deployex starts
-- becomes the VM, and SIGTERM stops it cleanly.
function start(ctx)
        local tls_problem = tls_release_problem(ctx, ctx.dirs.current)
        if tls_problem then return nil, tls_problem end
        return {
                argv = { "bin/" .. ctx.app, "start" },
                env = release_env(ctx),
                unset = release_unset,
                cwd = ctx.dirs.current,
        }
end

-- Each entry of current.json's pre_commands is a release command:
-- "eval MyApp.Release.migrate()" runs `bin/myapp eval 'MyApp.Release.migrate()'`
-- (a fresh VM with the app's code, the app itself not started).
function pre_command_argv(ctx, command)
        local verb, rest = command:match("^%s*(%S+)%s*(.-)%s*$")
        if not verb then return nil end
        local argv = { "bin/" .. ctx.app, verb }
        if rest ~= "" then argv[#argv + 1] = rest end
        return argv
end

function pre_commands(ctx)
        local commands = {}
        for _, command in ipairs(ctx.pre_commands or {}) do
                local argv = pre_command_argv(ctx, command)
                if not argv then return nil, ("pre-command '%s' is empty"):format(command) end
                commands[#commands + 1] = { label = command, argv = argv }
        end
        return run_commands(ctx, commands, release_root(ctx), release_env(ctx))
end

-- The ERTS version a release root runs on (releases/start_erl.data holds
-- "ERTS_VSN REL_VSN"), or nil.  common.lua's release_erts falls back on it.
function erts_version(root)
        local data = deployex.read_file(root .. "/releases/start_erl.data")
        return data and data:match("^%s*(%S+)")
end
