/*
 * instance: the observed state of one instance, as the daemon records it in
 * state/{app}/instances/{n}.json.  The planner reads these structs; the
 * daemon is their only writer (atomic writes), the CLI only reads them.
 *
 * All times are wall-clock milliseconds since the epoch (0 = never/none) so
 * that they stay meaningful across a daemon restart.
 */
#ifndef DEPLOYEX_INSTANCE_H
#define DEPLOYEX_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "state/config.h"
#include "state/ghosts.h"
#include "state/history.h"
#include "state/override.h"

enum instance_state {
        INSTANCE_STOPPED,
        INSTANCE_DEPLOYING,    /* fetch, unpack, stop, rotate */
        INSTANCE_PRE_COMMANDS,
        INSTANCE_STARTING,     /* process up, not yet ready */
        INSTANCE_RUNNING,      /* ready */
        INSTANCE_BACKOFF,      /* crashed, waiting to restart */
        INSTANCE_UPGRADING,    /* hot upgrade in flight */
};
#define INSTANCE_STATE_COUNT 7
const char *instance_state_to_string(enum instance_state s);
int instance_state_from_string(const char *s, enum instance_state *ret);

struct instance_record {
        int instance;                              /* n, 1-based */
        enum instance_state state;
        char version[VERSION_MAX + 1];             /* release in current/, "" when none */
        char previous_version[VERSION_MAX + 1];    /* release in previous/, "" when none */
        int pid;                                   /* 0 when not running */
        uint64_t proc_start_time;                  /* /proc/PID/stat field 22, to detect pid reuse */
        uint64_t started_at_ms;                    /* when the running process was started */
        uint64_t deploy_started_at_ms;             /* deployment of `version` began; 0 once ready */
        bool ready;
        uint32_t consecutive_crashes;              /* reset once ready */
        uint64_t last_exit_at_ms;                  /* last unrequested exit */
        uint64_t crash_restarts;
        uint64_t forced_restarts;
        char restart_token[TOKEN_MAX + 1];          /* app-level restart token last applied */
        char instance_restart_token[TOKEN_MAX + 1]; /* restart_instances token last applied */
        bool has_last_deploy;
        enum history_kind last_deploy_kind;
        bool last_deploy_ok;
        uint64_t last_deploy_at_ms;
        /* What a step in flight moves the instance to; "" when none. */
        char target_version[VERSION_MAX + 1];
        /*
         * Probation (DESIGN §5): when the deployment of `version` started (kept
         * once ready, unlike deploy_started_at_ms), and the crashes since, counted
         * only within rollback_timeout_ms of it.  0 = not on probation.
         */
        uint64_t probation_started_at_ms;
        uint32_t probation_crashes;
        /* The latest failure of any kind, with its cause; at 0 = none. */
        uint64_t last_error_at_ms;
        char last_error[REASON_MAX + 1];
};

/* Record a failure as the instance's last_error (text cut at REASON_MAX). */
void instance_record_set_error(struct instance_record *r, uint64_t at_ms, const char *text);

void instance_record_init(struct instance_record *r, int instance);
int instance_record_parse(const char *text, size_t len, const char *origin,
                          struct instance_record *ret, struct buf *err);
void instance_record_to_json(const struct instance_record *r, struct buf *out);
int instance_record_save(const char *path, const struct instance_record *r);
/*
 * The record of instance n as the daemon last wrote it, or a fresh one
 * (instance_record_init) when there is none or it cannot be read: for the
 * jobs and commands that only want its defaults (version, previous).
 */
void instance_record_read(const struct config *c, const char *app, int n,
                          struct instance_record *ret);

/*
 * Load state/{app}/instances/N.json files sorted by instance number.  Unreadable
 * records are reported in err and skipped.  *ret is malloc'ed (free()).
 */
int instance_records_load_dir(const char *dir, struct instance_record **ret, size_t *ret_n,
                              struct buf *err);

#endif
