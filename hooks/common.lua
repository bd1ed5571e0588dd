-- deployex hooks shared by every language.
--
-- Loaded first, before {language}.lua, as part of the default layer: every
-- function here is a global and deployex.default.NAME too, exactly like the
-- language file's.  The language file loads next and may replace any of
-- them (gleam.lua replaces upgrade_kind and hot_upgrade: a shipment is never
-- hot-upgraded); an app's own hooks file loads last.  See docs/hooks.md.

-- Variables an instance must never inherit from deployex's own environment:
-- a stray RELEASE_NODE or BINDIR would make the release script boot the
-- wrong node or the wrong release; DEPLOYEX_* may hold the daemon's secrets
-- (DEPLOYEX_ERLANG_COOKIE, handed to its jobs), which a pre-command must
-- not see.
release_unset = { "RELEASE_*", "BINDIR", "ROOTDIR", "ELIXIR_ERL_OPTIONS", "DEPLOYEX_*" }

-- How long one pre-command may run; an app file can set its own value.
pre_command_timeout_ms = 600000

-- With `tls` configured, ctx.tls_dist_file is the app's TLS distribution
-- options file: every VM of the instance (the node, a pre-command's eval, a
-- remote shell) gets "-proto_dist inet_tls -ssl_dist_optfile FILE" through
-- ERL_AFLAGS, which erl reads whatever script starts it (relx, mix, plain
-- erl), ahead of the app's own ERL_AFLAGS.  The release must include the
-- ssl application.  Returns env.
function with_tls_dist(ctx, env)
        if ctx.tls_dist_file then
                local flags = "-proto_dist inet_tls -ssl_dist_optfile " .. ctx.tls_dist_file
                env.ERL_AFLAGS = env.ERL_AFLAGS and (flags .. " " .. env.ERL_AFLAGS) or flags
        end
        return env
end

-- A release boots only the applications it lists: without ssl, a VM started
-- with -proto_dist inet_tls dies at boot.  nil, or why the release in root
-- cannot run TLS distribution (said before starting it, not after a crash).
function tls_release_problem(ctx, root)
        if ctx.tls_dist_file and #deployex.glob(root .. "/lib/ssl-*") == 0 then
                return ("tls is configured but the release has no ssl application (no %s/lib/ssl-*): "
                        .. "add ssl to the release's applications"):format(root)
        end
end

-- The instance's HOME: {service}/home (0700) holding the cookie as
-- .erlang.cookie (0400).  A VM started without -setcookie reads its cookie
-- there, so the cookie never goes on a command line, where `ps` shows it to
-- every local user.  Every language's release_env sets HOME to it.
function cookie_home(ctx)
        local dir, err = deployex.cookie_home(ctx.dirs.service .. "/home")
        if not dir then error(err, 0) end
        return dir
end

function file_exists(path)
        return deployex.read_file(path) ~= nil
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

-- Pre-commands run in the release that is about to run: new/ during a hot
-- upgrade (new/ is not rotated into current/ then), else current/ (a full
-- deployment has already rotated new/ away).
function release_root(ctx)
        if ctx.hot or #deployex.glob(ctx.dirs.new .. "/*") > 0 then return ctx.dirs.new end
        return ctx.dirs.current
end

-- ---- hot upgrades: release_handler over distribution ----------------------
--
-- DESIGN §5 "Hot", docs/hooks.md.  The new release is unpacked in
-- ctx.dirs.new (deployex's own copy, for inspection); release_handler
-- installs it inside the running node's root, ctx.dirs.current.

-- How long one release_handler step may take; a question to the node.
hot_step_timeout_ms = 120000
hot_query_timeout_ms = 10000

-- Erlang values for rpc arguments and replies (globals, so that an app's
-- hooks file can use them too).
function atom(s) return deployex.atom(s) end

function is_tuple(v) return type(v) == "userdata" and v.type == "tuple" end

-- ok, or {ok, ...}.
function is_ok(reply)
        return reply == atom("ok") or (is_tuple(reply) and reply[1] == atom("ok"))
end

-- One call on the node: its reply, or nil, "mod:fun: why".
function node_call(ctx, mod, fun, args, timeout_ms)
        local reply, err = deployex.rpc(ctx.node, atom(mod), atom(fun), args or {},
                timeout_ms or hot_query_timeout_ms)
        if reply == nil then return nil, ("%s:%s: %s"):format(mod, fun, err) end
        return reply
end

-- Does releases/VERSION/relup in root carry an upgrade from `from`?
function relup_upgrades_from(root, version, from)
        local terms = deployex.consult(root .. "/releases/" .. version .. "/relup")
        local rel = terms and terms[1]
        if not is_tuple(rel) or type(rel[2]) ~= "table" then return false end
        for _, up in ipairs(rel[2]) do
                if is_tuple(up) and up[1] == from then return true end
        end
        return false
end

-- The release name: releases/VERSION/NAME.rel (relx and mix name it after the app).
function release_name(ctx, root, version)
        local rels = deployex.glob(root .. "/releases/" .. version .. "/*.rel")
        if #rels == 1 then return rels[1]:match("([^/]+)%.rel$") end
        return ctx.app
end

-- The ERTS a release needs: {erts, Vsn} in its .rel, else releases/start_erl.data
-- (erts_version(root), which each language file defines).
function release_erts(root, version, rel)
        local terms = deployex.consult(root .. "/releases/" .. version .. "/" .. rel .. ".rel")
        local r = terms and terms[1]
        if is_tuple(r) and is_tuple(r[3]) and r[3][1] == atom("erts") and type(r[3][2]) == "string" then
                return r[3][2]
        end
        return erts_version(root)
end

-- The release the node runs: the one release_handler calls "current"
-- (installed, not yet permanent), else the "permanent" one.
function node_release(ctx)
        local rels, err = node_call(ctx, "release_handler", "which_releases")
        if rels == nil then return nil, err end
        local permanent
        for _, r in ipairs(type(rels) == "table" and rels or {}) do
                if is_tuple(r) and r[4] == atom("current") then return r[2] end
                if is_tuple(r) and r[4] == atom("permanent") then permanent = r[2] end
        end
        if permanent then return permanent end
        return nil, "release_handler:which_releases: no current or permanent release"
end

-- Can ctx.version be installed into the running node?  true, NAME (the
-- release name) or nil and the reason.  The last checks ask the node.
function hot_preflight(ctx)
        local new, v, from = ctx.dirs.new, ctx.version, ctx.from_version
        if not v or not from then return nil, "no running version to upgrade from" end
        if v == from then return nil, ("%s is the running version"):format(v) end
        if not deployex.rpc then return nil, "this deployex cannot call the node (no deployex.rpc)" end
        if not file_exists(new .. "/releases/" .. v .. "/relup") then
                return nil, ("the release has no releases/%s/relup"):format(v)
        end
        if not relup_upgrades_from(new, v, from) then
                return nil, ("releases/%s/relup has no upgrade from %s"):format(v, from)
        end
        if not file_exists(new .. "/releases/" .. v .. "/sys.config") then
                return nil, ("releases/%s/sys.config is missing: the next cold start would fail"):format(v)
        end
        local rel = release_name(ctx, new, v)
        local erts = release_erts(new, v, rel)
        if not erts then return nil, "cannot tell which ERTS the new release needs" end
        local running, err = node_call(ctx, "erlang", "system_info", { atom("version") })
        if running == nil then return nil, err end
        if running ~= erts then
                return nil, ("the release needs ERTS %s and the node runs ERTS %s: a new VM must start it")
                        :format(erts, tostring(running))
        end
        -- Upgrading a node whose applications are still starting would purge code they run.
        local status
        status, err = node_call(ctx, "init", "get_status")
        if status == nil then return nil, err end
        if not is_tuple(status) or status[1] ~= atom("started") then
                return nil, ("the node has not finished booting (init:get_status() is %s)"):format(tostring(status))
        end
        local on
        on, err = node_release(ctx)
        if on == nil then return nil, err end
        if on ~= from then return nil, ("the node runs release %s, not %s"):format(tostring(on), from) end
        return true, rel
end

-- "hot" only when hot_preflight passes; else "full", with the reason logged.
function upgrade_kind(ctx)
        if type(hot_upgrade) ~= "function" then return "full" end
        local ok, why = hot_preflight(ctx)
        if not ok then
                deployex.log("info", ("full deployment of %s: %s"):format(tostring(ctx.version), why))
                return "full"
        end
        return "hot"
end

-- One release_handler step, timed on the node (timer:tc): the reply, or nil, err.
function release_step(ctx, fun, arg)
        local t, err = deployex.rpc(ctx.node, atom("timer"), atom("tc"),
                { atom("release_handler"), atom(fun), { arg } }, hot_step_timeout_ms)
        if t == nil then return nil, ("release_handler:%s: %s"):format(fun, err) end
        if not is_tuple(t) or #t ~= 2 then
                return nil, ("release_handler:%s: unexpected answer %s"):format(fun, tostring(t))
        end
        deployex.log("info", ("hot upgrade %s -> %s: release_handler:%s took %.1f ms")
                :format(ctx.from_version, ctx.version, fun, t[1] / 1000))
        if not is_ok(t[2]) then return nil, ("release_handler:%s: %s"):format(fun, tostring(t[2])) end
        return t[2]
end

-- Nothing was installed: forget the unpacked release and leave the node as
-- it was.  set_removed only marks it in RELEASES; remove_release would also
-- delete library directories, which another release may still use.
function hot_abort(ctx, err)
        local reply, err2 = node_call(ctx, "release_handler", "set_removed", { deployex.charlist(ctx.version) })
        if reply == nil then deployex.log("warn", "cannot forget the unpacked release: " .. err2) end
        return nil, err, "not_installed"
end

-- The modules that still have old code on the node (erlang:check_old_code/1
-- over code:all_loaded(), filtered on the node in one call).
function old_code_modules(ctx)
        local check, err = node_call(ctx, "erlang", "make_fun", { atom("erlang"), atom("check_old_code"), 1 })
        if check == nil then return nil, err end
        local loaded
        loaded, err = node_call(ctx, "code", "all_loaded")
        if loaded == nil then return nil, err end
        local mods = {}
        for _, m in ipairs(loaded) do mods[#mods + 1] = m[1] end
        local old
        old, err = node_call(ctx, "lists", "filter", { check, mods })
        if old == nil then return nil, err end
        local names = {}
        for _, m in ipairs(old) do names[#names + 1] = tostring(m) end
        return names
end

-- After make_permanent: the same OS process, the new release permanent, no old code left.
function hot_verify(ctx, pid)
        local now, err = node_call(ctx, "os", "getpid")
        if now == nil then return nil, "after the upgrade: " .. err end
        if now ~= pid then return nil, ("the node restarted (OS pid %s, now %s)"):format(pid, now) end
        local rels
        rels, err = node_call(ctx, "release_handler", "which_releases")
        if rels == nil then return nil, err end
        local permanent = false
        for _, r in ipairs(rels) do
                if is_tuple(r) and r[2] == ctx.version and r[4] == atom("permanent") then permanent = true end
        end
        if not permanent then return nil, ("%s is not the permanent release after make_permanent"):format(ctx.version) end
        local old
        old, err = old_code_modules(ctx)
        if old == nil then return nil, err end
        if #old > 0 then return nil, "modules still running old code: " .. table.concat(old, ", ") end
        return true
end

-- The release_handler sequence.  Stage "not_installed": the node runs what it
-- ran (the unpacked release is forgotten); "installed": it went past
-- install_release, or the node restarted or died, and only a full deployment
-- of the version gives a known state.
function hot_upgrade(ctx)
        local ok, rel = hot_preflight(ctx)
        if not ok then return nil, rel, "not_installed" end
        local v, root = ctx.version, ctx.dirs.current
        local pid, err = node_call(ctx, "os", "getpid")
        if pid == nil then return nil, err, "not_installed" end

        local dir = root .. "/releases/" .. v
        local r = deployex.exec({ "mkdir", "-p", dir })
        if r.ok then r = deployex.exec({ "cp", ctx.tarball, dir .. "/" .. rel .. ".tar.gz" }) end
        if not r.ok then return nil, "cannot place the release tarball: " .. r.error, "not_installed" end

        local reply
        reply, err = release_step(ctx, "unpack_release", deployex.charlist(v .. "/" .. rel))
        if reply == nil and err:find("existing_release", 1, true) then
                -- Left by an attempt that did not finish: forget it and unpack again.
                node_call(ctx, "release_handler", "set_removed", { deployex.charlist(v) })
                reply, err = release_step(ctx, "unpack_release", deployex.charlist(v .. "/" .. rel))
        end
        if reply == nil then return hot_abort(ctx, err) end
        reply, err = release_step(ctx, "check_install_release", deployex.charlist(v))
        if reply == nil then return hot_abort(ctx, err) end

        -- The point of no return.
        for _, fun in ipairs({ "install_release", "make_permanent" }) do
                reply, err = release_step(ctx, fun, deployex.charlist(v))
                if reply == nil then return nil, err, "installed" end
        end
        -- relx's bin/REL hard-codes the version it was built with: a restart must boot v.
        local script = root .. "/bin/" .. rel .. "-" .. v
        if file_exists(script) then
                r = deployex.exec({ "cp", script, root .. "/bin/" .. rel })
                if not r.ok then return nil, ("cannot install bin/%s: %s"):format(rel, r.error), "installed" end
        end
        ok, err = hot_verify(ctx, pid)
        if not ok then return nil, err, "installed" end
        return true
end
