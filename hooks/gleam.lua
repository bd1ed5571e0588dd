-- deployex default hooks for Gleam applications shipped as an
-- erlang-shipment (`gleam export erlang-shipment`): the tarball holds
-- erlang-shipment/<package>/ebin/*.beam for every package, and the app's
-- entry point is <app>@@main:run(<app>).  There is no release script, so
-- deployex names the node on the erl command line; the cookie is read from
-- $HOME/.erlang.cookie (cookie_home in common.lua), never passed in argv.
--
-- common.lua (the same directory) is loaded before this file; its
-- release_unset, run_commands and pre_command_timeout_ms serve here too.
-- Its hot-upgrade functions do not: upgrade_kind and hot_upgrade below
-- replace them.  An app's own hooks file (the "hooks" field of its config)
-- is loaded after both: any function it defines replaces the one here, and
-- the original stays callable as deployex.default.NAME(ctx).  See
-- docs/hooks.md.

function release_env(ctx)
        local env = {}
        for k, v in pairs(ctx.env) do env[k] = v end
        for name, port in pairs(ctx.ports) do env[name] = tostring(port) end
        env.RELEASE_NODE = ctx.sname
        -- DESIGN §5 sets it for every language; plain erl ignores it, but an
        -- app or tool reading it (e.g. to build a remsh) expects "sname".
        env.RELEASE_DISTRIBUTION = "sname"
        env.RELEASE_COOKIE = ctx.cookie
        env.RELEASE_TMP = ctx.dirs.tmp
        env.HOME = cookie_home(ctx)
        return with_tls_dist(ctx, env)
end

-- The ebin directories of every package, relative to root (the shipment
-- may sit in erlang-shipment/ or be the tarball's top level).
function ebin_dirs(root)
        local dirs = {}
        for _, prefix in ipairs({ "erlang-shipment/", "" }) do
                for _, path in ipairs(deployex.glob(root .. "/" .. prefix .. "*/ebin")) do
                        dirs[#dirs + 1] = path:sub(#root + 2)
                end
                if #dirs > 0 then return dirs end
        end
        return dirs
end

-- erl -pa <ebins> <flags> -sname app-N [-eval EXPR]
function erl_argv(ctx, root, eval)
        local argv = { "erl", "-pa" }
        for _, dir in ipairs(ebin_dirs(root)) do argv[#argv + 1] = dir end
        for _, x in ipairs(eval) do argv[#argv + 1] = x end
        return argv
end

function start(ctx)
        local root = ctx.dirs.current
        local main = ("%s@@main:run(%s)"):format(ctx.app, ctx.app)
        return {
                argv = erl_argv(ctx, root, { "-eval", main, "-noshell",
                        "-sname", ctx.sname }),
                env = release_env(ctx),
                unset = release_unset,
                cwd = root,
        }
end

-- Only "eval EXPR": a fresh VM with every package on the path evaluates the
-- Erlang expression and halts (an exception makes the exit status 1).
function pre_commands(ctx)
        local root = ctx.dirs.current
        local commands = {}
        for _, command in ipairs(ctx.pre_commands or {}) do
                local expr = command:match("^%s*eval%s+(.-)%s*$")
                if not expr or expr == "" then
                        return nil, ("pre-command '%s': a Gleam app only runs 'eval EXPR'"):format(command)
                end
                commands[#commands + 1] = {
                        label = command,
                        argv = erl_argv(ctx, root, { "-noshell", "-eval", expr, "-s", "erlang", "halt" }),
                }
        end
        local env = release_env(ctx)
        env.ERL_CRASH_DUMP_SECONDS = "0"
        return run_commands(ctx, commands, root, env)
end

-- A shipment has no release_handler metadata (no .rel, no relup): always a
-- full deployment.
function upgrade_kind(ctx)
        return "full"
end

-- common.lua's release_handler sequence must not run against a shipment,
-- even when called by hand (`deployex hook APP N hot_upgrade`) or after an
-- app's file made upgrade_kind answer "hot": refuse, the node untouched.
function hot_upgrade(ctx)
        return nil, "a Gleam erlang-shipment cannot be hot-upgraded (no release_handler metadata)",
                "not_installed"
end
