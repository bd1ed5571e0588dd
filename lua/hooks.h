/*
 * hooks: the language-specific behaviour of an app, as Lua hook functions
 * (DESIGN §5, §6) -- finding the default hook files, loading an app's hooks,
 * checking them, and calling one hook for one instance.
 *
 * Loading, for every call, into a fresh sandbox (lua/sandbox.h):
 *   1. the default layer: {hooks dir}/common.lua (when present), then
 *      {hooks dir}/{language}.lua; every function either defines becomes
 *      deployex.default.NAME as well as the global NAME, the language
 *      file's winning;
 *   2. the app's `hooks` file, if configured: its global functions replace
 *      the defaults (which it can still call through deployex.default).
 * A file may also `return {start = function ...}`: the fields count as
 * global definitions.  A hook name (hooks_names) bound to anything but a
 * function is a type error reported at the line of the assignment.
 *
 * Calling: hooks_call() builds ctx (DESIGN §6: app, instance, language,
 * version, from_version, node, cookie, ports, env, dirs, pre_commands, plus
 * sname, host, logs, tarball, hot, hooks_file, time_limit_ms), calls the function and
 * converts what it returned into a struct hook_result that the caller owns
 * and that prints as JSON with the cookie masked.  The typed helpers
 * (hooks_start, hooks_upgrade_kind, hooks_call_ok) check the shape of the
 * answer and report a bad one at the hook's file and line.
 *
 * Errors are lines "FILE:LINE: message" appended to err.  Nothing here logs;
 * deployex.log() output goes to call->log (default: stderr).
 */
#ifndef DEPLOYEX_HOOKS_H
#define DEPLOYEX_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "lua/sandbox.h"
#include "state/config.h"
#include "base/util.h"

/* Every hook function name deployex knows (NULL-terminated). */
extern const char *const hooks_names[];
/* Those every language default must define. */
extern const char *const hooks_required[];

/*
 * The directory of the default hook files: $DEPLOYEX_HOOKS_PATH, else
 * ../share/deployex/hooks next to the running binary (/proc/self/exe) when
 * that directory exists.  -ENOENT otherwise; *ret untouched on failure.
 */
int hooks_default_dir(struct buf *ret);
/* {dir}/{language}.lua; dir NULL = hooks_default_dir(). */
int hooks_default_file(const char *dir, enum language lang, struct buf *ret);

/*
 * Load the language default and the app's hooks file (if any) as a call
 * would, without calling any hook, and append every error -- unreadable
 * file, syntax error, error while running the file's top level, a hook name
 * bound to a non-function, a required hook missing -- as one line
 * "FILE:LINE: message".  0, or -EINVAL when anything was reported.
 */
int hooks_check_app(const struct config *c, const struct app_config *app, struct buf *err);
/* The same with an explicit hooks directory (NULL = default). */
int hooks_check_app_dir(const struct config *c, const struct app_config *app, const char *dir,
                        struct buf *err);

struct hook_call {
        const struct config *config;
        const struct app_config *app;
        int instance;                /* n, 1-based */
        const char *version;         /* the release of the call (e.g. being deployed); NULL = none */
        const char *from_version;    /* the release it replaces; NULL = none */
        char *const *pre_commands;   /* from current.json */
        size_t npre_commands;
        const struct kv *event;      /* on_event's second argument {kind=..., ...}; NULL = none */
        size_t nevent;
        struct sandbox_limits limits; /* zeros = hooks_default_limits(function) */
        const char *hooks_dir;       /* NULL = hooks_default_dir() */
        /* deployex.log() and print(); NULL = stderr.  msg is already masked. */
        void (*log)(void *data, const char *level, const char *msg);
        void *log_data;
        bool hot;                    /* ctx.hot: the call belongs to a hot upgrade (new/ is not rotated) */
        bool new_as_current;         /* ctx.dirs.current is new/: pre-flight asks start() about it */
        const int *log_fds;          /* the instance's logs opened already (api_env); NULL = by path */
        /*
         * Set to true when a call fails for this host's reason, not the
         * release's: the hooks files cannot be loaded, the cookie or the TLS
         * options cannot be read or written.  NULL = not asked.
         */
        bool *local_fault;
};

/* The limits a hook runs under unless the caller says otherwise (pre_commands get an hour). */
void hooks_default_limits(const char *function, struct sandbox_limits *ret);

enum hook_value_type {
        HOOK_NIL,
        HOOK_BOOL,
        HOOK_INT,
        HOOK_FLOAT,
        HOOK_STRING, /* also Erlang terms, as their Erlang text */
        HOOK_LIST,   /* a Lua sequence */
        HOOK_MAP,    /* any other table; keys as text */
};

struct hook_value {
        enum hook_value_type type;
        bool b;
        long long i;
        double f;
        char *s;                   /* HOOK_STRING, NUL-terminated (len may include NULs) */
        size_t len;
        struct hook_value *items;  /* HOOK_LIST elements, HOOK_MAP values */
        char **keys;               /* HOOK_MAP keys */
        size_t n;
};

struct hook_result {
        struct hook_value *values; /* what the function returned, in order */
        size_t n;
        char *where;               /* "FILE:LINE" where the function is defined */
        char *secret;              /* the cookie, masked by hook_result_to_json() */
};

/*
 * Call `function` for the instance.  0 when it ran (whatever it returned,
 * then *ret is filled), -ENOENT when no such hook is defined, -EINVAL when
 * loading or running failed, other -errno when ctx could not be built (an
 * unreadable cookie_file); err gets one line in every failure case.
 */
int hooks_call(const struct hook_call *call, const char *function, struct hook_result *ret,
               struct buf *err);
void hook_result_release(struct hook_result *r);
/* The first value is neither nil nor false. */
bool hook_result_ok(const struct hook_result *r);
/* The i-th value (0-based) when it is a string, else NULL. */
const char *hook_result_string(const struct hook_result *r, size_t i);
/* A map's member, or NULL. */
const struct hook_value *hook_value_get(const struct hook_value *map, const char *key);
/*
 * JSON: no value -> null, one value -> that value, several -> an array.
 * Every occurrence of the cookie in a string or key is replaced by "********".
 */
void hook_result_to_json(const struct hook_result *r, struct buf *out);

/* How to run an instance, from start(ctx): ready for spawn_start(). */
struct hook_command {
        char **argv;
        char **envp;  /* the inherited environment minus `unset`, plus `env` */
        char *cwd;    /* `cwd`, default ctx.dirs.current */
};

/* Call start(ctx) and check its answer {argv = {...}, env = {...}, unset = {...}, cwd = "..."}. */
int hooks_start(const struct hook_call *call, struct hook_command *ret, struct buf *err);
void hook_command_release(struct hook_command *c);

/* Call upgrade_kind(ctx): *ret_hot true for "hot", false for "full"; anything else is an error. */
int hooks_upgrade_kind(const struct hook_call *call, bool *ret_hot, struct buf *err);

/*
 * Call a hook that answers `true | nil, err[, stage]` (pre_commands,
 * hot_upgrade, health).  0 when true; -EIO when it answered a failure, with
 * its message in err and its stage (e.g. "installed") in stage (when given,
 * "" if none); -ENOENT when not defined; other errors as hooks_call().
 */
int hooks_call_ok(const struct hook_call *call, const char *function, struct buf *err,
                  char *stage, size_t stage_len);

#endif
