/*
 * supervisor: the life of instance processes.  Start (through the
 * language's start hook, run as a job), stop (SIGTERM to the group, then
 * SIGKILL after stop_timeout_ms), exits (requested, or a crash), readiness,
 * and adoption of processes a previous daemon started.
 *
 * It is given the runtime (runtime.h), never the daemon: it knows the
 * instance it acts on and that instance's app, no other app.  The daemon
 * hands it every exit (sup_reap) and ticks it per app (sup_tick).
 *
 * Every state change goes through instance_set_state(), which logs
 * "app=... instance=... version=... starting -> running" and persists the
 * record.
 */
#ifndef DEPLOYEX_SUPERVISOR_H
#define DEPLOYEX_SUPERVISOR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "reconciler/daemon/instances.h"
#include "reconciler/daemon/runtime.h"
#include "state/history.h"

void start_cmd_release(struct start_cmd *cmd);

void instance_set_state(struct runtime *rt, struct instance_rt *in, enum instance_state s,
                        const char *why);
/* The same change, logged, for a caller whose next record write follows at once. */
void instance_enter_state(struct instance_rt *in, enum instance_state s, const char *why);
int instance_save(struct runtime *rt, struct instance_rt *in);
/* Save the records a crash changed in memory only (the restart came first). */
void sup_save_pending(struct runtime *rt, struct app_rt *a);
struct instance_rt *instance_get(struct app_rt *a, int n, bool create);
void instance_free(struct runtime *rt, struct instance_rt *in);
void sup_start(struct runtime *rt, struct instance_rt *in);
void sup_stop(struct runtime *rt, struct instance_rt *in,
              void (*stopped)(struct runtime *rt, struct instance_rt *in));
/* true when pid was one of the app's instances */
bool sup_reap(struct runtime *rt, struct app_rt *a, pid_t pid, int wstatus);
/* true when pid was the log writer of one of the app's instances */
bool sup_reap_log_writer(struct runtime *rt, struct app_rt *a, pid_t pid);
void sup_close_logs(struct instance_rt *in);              /* the writers end at EOF */
void sup_adopt(struct runtime *rt, struct instance_rt *in);
void sup_tick(struct runtime *rt, struct app_rt *a);      /* readiness, kill deadlines */
/*
 * Something changed for this app's instances alone (a step's job answered,
 * a process started, became ready or stopped): the loop plans this app
 * again, alone and without rereading its files, instead of every app.
 */
void sup_app_changed(struct runtime *rt, struct app_rt *a);
uint64_t sup_next_deadline(const struct app_rt *a);       /* the app's; 0 = none */
bool sup_is_running(const struct instance_rt *in);
void sup_record_history(struct runtime *rt, struct instance_rt *in, enum history_kind kind,
                        const char *from, const char *version, bool ok, const char *reason);
void sup_hook_event(struct runtime *rt, struct instance_rt *in, const char *event);
/* Record a failure as the instance's last_error (saved with the record). */
void sup_set_error(struct runtime *rt, struct instance_rt *in, const char *text);
/* Why the instance is not ready yet, as its readiness job said last; "" when unknown. */
void sup_not_ready_reason(const struct instance_rt *in, struct buf *out);

/*
 * The one way a job is started for an instance (a step's phase, a hook, the
 * readiness watch): `deployex CMD [APP N] ARGS...`, named after what_fmt in
 * the logs, owned by the instance (cancelled with it) unless fire_and_forget
 * (then by its app).
 * NULL with errno set when it could not start; jobs.c has logged it (or the
 * runtime noted a host fault).
 */
struct inst_job {
        const char *cmd;              /* "__hook", "__ready", "__fetch", "__unpack" */
        bool app_and_number;          /* the app's name and the instance number follow cmd */
        const char *const *args;      /* then these, NULL-terminated; NULL = none */
        bool as_app_user;             /* runs as the app's user from its exec on (DESIGN §8) */
        uint64_t timeout_ms;
        job_done_fn done;
        job_done_fn not_started;      /* its program could not be executed (jobs.h); NULL = done */
        bool fire_and_forget;         /* owned by the app: outlives the instance (on_event) */
        int arg;                      /* job->arg: the pid the answer is about, for instance */
};
struct job *inst_job_start(struct runtime *rt, struct instance_rt *in, const struct inst_job *spec,
                           const char *what_fmt, ...) __attribute__((format(printf, 4, 5)));
struct job *inst_job_startv(struct runtime *rt, struct instance_rt *in,
                            const struct inst_job *spec, const char *what_fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));

#endif
