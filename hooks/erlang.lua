-- deployex default hooks for Erlang releases (rebar3/relx).
--
-- The release's vm.args.src is expected to name the node from the
-- environment, and to set no cookie:
--     -sname ${RELEASE_NODE}
-- A `-setcookie ${RELEASE_COOKIE}` line there would put the cookie on the
-- VM's command line (relx passes vm.args with -args_file, which erlexec
-- copies into beam.smp's argv).  The VM reads the cookie from
-- $HOME/.erlang.cookie instead (cookie_home in common.lua).  RELEASE_NODE is
-- the full name app-N@host: with a bare name relx would start a throwaway
-- VM with -setcookie just to learn the host name.
--
-- common.lua (the same directory) is loaded before this file: release_unset,
-- run_commands, release_root, file_exists, upgrade_kind, hot_upgrade and the
-- rest of the hot-upgrade sequence live there.  What is Erlang's own is
-- here: the environment, the start command (relx's versioned script) and
-- how a pre-command runs.  An app's own hooks file (the "hooks" field of its
-- config) is loaded after both: any function it defines replaces the one
-- here, and the original stays callable as deployex.default.NAME(ctx).  See
-- docs/hooks.md.

function release_env(ctx)
        local env = {}
        for k, v in pairs(ctx.env) do env[k] = v end
        for name, port in pairs(ctx.ports) do env[name] = tostring(port) end
        env.RELEASE_NODE = ctx.node
        env.RELEASE_DISTRIBUTION = "sname"
        env.RELEASE_COOKIE = ctx.cookie
        env.RELEASE_TMP = ctx.dirs.tmp
        env.HOME = cookie_home(ctx)
        -- relx renders vm.args.src/sys.config.src from the environment.
        env.RELX_REPLACE_OS_VARS = "true"
        return with_tls_dist(ctx, env)
end

-- releases/start_erl.data holds "ERTS_VSN REL_VSN".
function start_erl_data(root)
        local data = deployex.read_file(root .. "/releases/start_erl.data")
        if not data then return nil end
        local erts, vsn = data:match("^%s*(%S+)%s*(%S*)")
        return erts, vsn ~= "" and vsn or nil
end

-- The ERTS version a release root runs on, or nil; common.lua's release_erts
-- falls back on it.
function erts_version(root)
        local erts = start_erl_data(root)
        return erts
end

-- relx's bin/APP hard-codes the version it was built with; after a hot
-- upgrade releases/start_erl.data names the running one, and bin/APP-VSN is
-- the script of exactly that version.
function start_script(ctx, root)
        local _, vsn = start_erl_data(root)
        if vsn and file_exists(root .. "/bin/" .. ctx.app .. "-" .. vsn) then
                return "bin/" .. ctx.app .. "-" .. vsn
        end
        return "bin/" .. ctx.app
end

-- A release built with the old template still has -setcookie in its
-- vm.args.src: it works, but the cookie is on the VM's command line.
function warn_setcookie(root)
        local _, vsn = start_erl_data(root)
        if not vsn then return end
        local src = deployex.read_file(root .. "/releases/" .. vsn .. "/vm.args.src")
                or deployex.read_file(root .. "/releases/" .. vsn .. "/vm.args") or ""
        if src:find("-setcookie", 1, true) then
                deployex.log("warn", ("%s/releases/%s/vm.args sets -setcookie: the cookie is on the " ..
                        "VM's command line; remove that line (the VM reads $HOME/.erlang.cookie)"):format(root, vsn))
        end
end

function start(ctx)
        local root = ctx.dirs.current
        local tls_problem = tls_release_problem(ctx, root)
        if tls_problem then return nil, tls_problem end
        warn_setcookie(root)
        return {
                argv = { start_script(ctx, root), "foreground" },
                env = release_env(ctx),
                unset = release_unset,
                cwd = root,
        }
end

-- relx's `bin/APP eval` needs the node running, but pre-commands run before
-- it starts.  So "eval EXPR" boots a fresh VM of the release's own ERTS with
-- its code on the path (applications not started), evaluates EXPR and
-- halts: an exception makes the exit status 1.  Any other entry is passed
-- to the release script: "rpc Mod fun" -> bin/APP rpc 'Mod fun'.
function pre_command_argv(ctx, command, root)
        local verb, rest = command:match("^%s*(%S+)%s*(.-)%s*$")
        if not verb then return nil end
        if verb ~= "eval" then
                local argv = { start_script(ctx, root), verb }
                if rest ~= "" then argv[#argv + 1] = rest end
                return argv
        end
        local erts, vsn = start_erl_data(root)
        local erl = "erl"
        if erts and file_exists(root .. "/erts-" .. erts .. "/bin/erl") then
                erl = root .. "/erts-" .. erts .. "/bin/erl"
        end
        local argv = { erl, "-noshell", "-noinput" }
        if vsn and file_exists(root .. "/releases/" .. vsn .. "/start_clean.boot") then
                argv[#argv + 1] = "-boot"
                argv[#argv + 1] = root .. "/releases/" .. vsn .. "/start_clean"
        end
        argv[#argv + 1] = "-pa"
        for _, ebin in ipairs(deployex.glob(root .. "/lib/*/ebin")) do argv[#argv + 1] = ebin end
        for _, x in ipairs({ "-eval", rest, "-s", "erlang", "halt" }) do argv[#argv + 1] = x end
        return argv
end

function pre_commands(ctx)
        local root = release_root(ctx)
        local commands = {}
        for _, command in ipairs(ctx.pre_commands or {}) do
                local argv = pre_command_argv(ctx, command, root)
                if not argv then return nil, ("pre-command '%s' is empty"):format(command) end
                commands[#commands + 1] = { label = command, argv = argv }
        end
        local env = release_env(ctx)
        env.ERL_CRASH_DUMP_SECONDS = "0" -- a failing eval must not leave crash dumps behind
        return run_commands(ctx, commands, root, env)
end
