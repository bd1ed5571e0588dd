-- deployex default hooks for Erlang releases (rebar3/relx).
--
-- The release's vm.args.src is expected to name the node and cookie from
-- the environment, as rebar3's template does once edited:
--     -sname ${RELEASE_NODE}
--     -setcookie ${RELEASE_COOKIE}
-- An app's own hooks file (the "hooks" field of its config) is loaded after
-- this one: any function it defines replaces the one here, and the original
-- stays callable as deployex.default.NAME(ctx).  See docs/hooks.md.

-- Variables an instance must never inherit from deployex's own environment.
release_unset = { "RELEASE_*", "BINDIR", "ROOTDIR", "ELIXIR_ERL_OPTIONS" }

-- How long one pre-command may run; an app file can set its own value.
pre_command_timeout_ms = 600000

function release_env(ctx)
        local env = {}
        for k, v in pairs(ctx.env) do env[k] = v end
        for name, port in pairs(ctx.ports) do env[name] = tostring(port) end
        env.RELEASE_NODE = ctx.sname
        env.RELEASE_DISTRIBUTION = "sname"
        env.RELEASE_COOKIE = ctx.cookie
        env.RELEASE_TMP = ctx.dirs.tmp
        -- relx renders vm.args.src/sys.config.src from the environment.
        env.RELX_REPLACE_OS_VARS = "true"
        return env
end

function file_exists(path)
        return deployex.read_file(path) ~= nil
end

-- releases/start_erl.data holds "ERTS_VSN REL_VSN".
function start_erl_data(root)
        local data = deployex.read_file(root .. "/releases/start_erl.data")
        if not data then return nil end
        local erts, vsn = data:match("^%s*(%S+)%s*(%S*)")
        return erts, vsn ~= "" and vsn or nil
end

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

function start(ctx)
        local root = ctx.dirs.current
        return {
                argv = { start_script(ctx, root), "foreground" },
                env = release_env(ctx),
                unset = release_unset,
                cwd = root,
        }
end

function output_tail(output, max)
        max = max or 1000
        output = output or ""
        if #output > max then
                output = output:sub(-max)
                output = output:match("\n(.*)$") or output
        end
        return (output:gsub("%s+$", ""))
end

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

function release_root(ctx)
        if ctx.hot or #deployex.glob(ctx.dirs.new .. "/*") > 0 then return ctx.dirs.new end
        return ctx.dirs.current
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

-- "hot" only when the new release carries a relup with an upgrade from the
-- running version and a sys.config, and runs on the same ERTS.
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

-- The release_handler sequence over distribution (needs deployex.rpc);
-- stage "not_installed" before install_release, "installed" after.
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
        -- A restart must boot the new version: relx's bin/APP names the old one.
        r = deployex.exec({ "cp", root .. "/bin/" .. rel .. "-" .. v, root .. "/bin/" .. rel })
        if not r.ok then return nil, "cannot install bin/" .. rel .. ": " .. r.error, "installed" end
        return true
end
