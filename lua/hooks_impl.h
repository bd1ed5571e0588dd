/*
 * hooks_impl: what lua/hooks_*.c share and nothing else includes (the rest
 * of deployex uses hooks.h).
 */
#ifndef DEPLOYEX_HOOKS_IMPL_H
#define DEPLOYEX_HOOKS_IMPL_H

#include <lua.h>

#include "lua/api.h"
#include "lua/hooks.h"
#include "lua/sandbox.h"

/*
 * A sandbox with the API bound to env and the app's hooks loaded (hooks_load.c).
 * Load problems are appended to err (one line each) and give -EINVAL.
 */
int hooks_open(const struct config *c, const struct app_config *app, const char *dir,
               const struct sandbox_limits *limits, struct api_env *env, struct sandbox **ret,
               struct buf *err);

/* "FILE:LINE" where the Lua function at idx is defined, appended to out (hooks_load.c). */
void hooks_function_where(lua_State *L, int idx, struct buf *out);

/* Copy the Lua value at idx into v, which the caller releases (hooks_values.c). */
void hooks_value_from_lua(lua_State *L, int idx, struct hook_value *v);

#endif
