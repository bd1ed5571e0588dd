/* The Lua term parser (deployex.consult: file:consult/1 syntax), in a protected call. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "fuzz/fuzz.h"
#include "lua/term.h"

static int parse(lua_State *L)
{
        const char *text = lua_touserdata(L, 1);
        size_t len = (size_t)lua_tointeger(L, 2);
        char err[256];

        (void)term_parse_text(L, text, len, "fuzz", err, sizeof(err));
        return 0;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        lua_State *L = luaL_newstate();

        if (!L)
                return 0;
        lua_newtable(L);
        term_open(L);
        lua_setglobal(L, "deployex");
        lua_pushcfunction(L, parse);
        lua_pushlightuserdata(L, (void *)data);
        lua_pushinteger(L, (lua_Integer)size);
        (void)lua_pcall(L, 2, 0, 0);
        lua_close(L);
        return 0;
}
