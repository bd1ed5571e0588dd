-- deployex default hooks for Elixir releases (mix release).
--
-- An app's own hooks file (the "hooks" field of its config) is loaded after
-- this one: any function it defines replaces the one here, and the original
-- stays callable as deployex.default.NAME(ctx).  See docs/hooks.md.

-- Variables an instance must never inherit from deployex's own environment:
-- a stray RELEASE_NODE or BINDIR would make the release script boot the
-- wrong node or the wrong release.
release_unset = { "RELEASE_*", "BINDIR", "ROOTDIR", "ELIXIR_ERL_OPTIONS" }

-- How long one pre-command may run; an app file can set its own value.
pre_command_timeout_ms = 600000

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
        return env
end

-- `bin/myapp start` is the foreground form: the process deployex starts
-- becomes the VM, and SIGTERM stops it cleanly.
function start(ctx)
        return {
                argv = { "bin/" .. ctx.app, "start" },
                env = release_env(ctx),
                unset = release_unset,
                cwd = ctx.dirs.current,
        }
end

-- The last lines of a command's output, for an error message.
function output_tail(output, max)
        max = max or 1000
        output = output or ""
        if #output > max then
                output = output:sub(-max)
                output = output:match("\n(.*)$") or output
        end
        return (output:gsub("%s+$", ""))
end

-- Run a list of {label, argv} one after the other; stop at the first
-- failure with its exit status and the tail of its output.
function run_commands(ctx, commands, cwd, env)
        for i, c in ipairs(commands) do
                deployex.log("info", ("pre-command %d/%d: %s"):format(i, #commands, c.label))
                local r = deployex.exec(c.argv, {
                        env = env,
                        unset = release_unset,
                        cwd = cwd,
                        timeout_ms = pre_command_timeout_ms,
                })
                if not r.ok then
                        local tail = output_tail(r.output)
                        return nil, ("pre-command %d '%s' %s%s"):format(i, c.label, r.error,
                                tail ~= "" and (": " .. tail) or "")
                end
        end
        return true
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

-- Pre-commands run in the release that is about to run: new/ during a hot
-- upgrade (new/ is not rotated into current/ then), else current/ (a full
-- deployment has already rotated new/ away).
function release_root(ctx)
        if ctx.hot or #deployex.glob(ctx.dirs.new .. "/*") > 0 then return ctx.dirs.new end
        return ctx.dirs.current
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
-- "ERTS_VSN REL_VSN"), or nil.
function erts_version(root)
        local data = deployex.read_file(root .. "/releases/start_erl.data")
        return data and data:match("^%s*(%S+)")
end

function file_exists(path)
        return deployex.read_file(path) ~= nil
end

-- Does releases/VERSION/relup in root carry an upgrade from `from`?
function relup_upgrades_from(root, version, from)
        local terms = deployex.consult(root .. "/releases/" .. version .. "/relup")
        local rel = terms and terms[1]
        if type(rel) ~= "userdata" or rel.type ~= "tuple" or type(rel[2]) ~= "table" then
                return false
        end
        for _, up in ipairs(rel[2]) do
                if type(up) == "userdata" and up.type == "tuple" and up[1] == from then
                        return true
                end
        end
        return false
end

-- "hot" only when the new release can be installed in place: it carries a
-- relup with an upgrade from the running version and a sys.config (without
-- one the next cold start fails), and it runs on the same ERTS.
function upgrade_kind(ctx)
        local new, v, from = ctx.dirs.new, ctx.version, ctx.from_version
        if not v or not from or v == from then return "full" end
        if type(hot_upgrade) ~= "function" or not deployex.rpc then return "full" end
        if not relup_upgrades_from(new, v, from) then return "full" end
        if not file_exists(new .. "/releases/" .. v .. "/sys.config") then return "full" end
        local erts_new, erts_running = erts_version(new), erts_version(ctx.dirs.current)
        if not erts_new or erts_new ~= erts_running then return "full" end
        return "hot"
end

-- The release_handler sequence over distribution (needs deployex.rpc).  A
-- failure before install_release leaves the node as it was
-- ("not_installed"); after it, deployex falls back to a full deployment
-- ("installed").
rpc_timeout_ms = 60000

function release_call(ctx, fun, ...)
        local reply, err = deployex.rpc(ctx.node, deployex.atom("release_handler"),
                deployex.atom(fun), { ... }, rpc_timeout_ms)
        if reply == nil then return nil, ("release_handler:%s: %s"):format(fun, err) end
        return reply
end

local function is_ok(reply)
        return reply == deployex.atom("ok") or
                (type(reply) == "userdata" and reply.type == "tuple" and reply[1] == deployex.atom("ok"))
end

function hot_upgrade(ctx)
        if not deployex.rpc then
                return nil, "hot upgrades need deployex.rpc", "not_installed"
        end
        local v, rel, root = ctx.version, ctx.app, ctx.dirs.current
        local dir = root .. "/releases/" .. v
        local r = deployex.exec({ "mkdir", "-p", dir })
        if r.ok then r = deployex.exec({ "cp", ctx.tarball, dir .. "/" .. rel .. ".tar.gz" }) end
        if not r.ok then return nil, "cannot place the release tarball: " .. r.error, "not_installed" end
        local steps = {
                { "unpack_release", deployex.charlist(v .. "/" .. rel), "not_installed" },
                { "check_install_release", deployex.charlist(v), "not_installed" },
                { "install_release", deployex.charlist(v), "installed" },
                { "make_permanent", deployex.charlist(v), "installed" },
        }
        for _, s in ipairs(steps) do
                local reply, err = release_call(ctx, s[1], s[2])
                if not reply then return nil, err, s[3] end
                if not is_ok(reply) then
                        return nil, ("release_handler:%s: %s"):format(s[1], tostring(reply)), s[3]
                end
        end
        return true
end
