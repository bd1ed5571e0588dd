/*
 * config_check: what the two forms of the configuration share, internal to
 * state/config*.c.  config.c reads the JSON file and defines these;
 * config_env.c reads the DeployEx 0.3 environment variables.  Each check
 * takes the field to blame (a JSON path or a variable's name), appends one
 * "ORIGIN: FIELD: what is wrong, got VALUE" line through record.h when the
 * value is refused, and returns whether it was accepted.
 */
#ifndef DEPLOYEX_CONFIG_CHECK_H
#define DEPLOYEX_CONFIG_CHECK_H

#include <stdbool.h>

#include "state/config.h"
#include "state/record.h"

/* Upper bounds keep deadline arithmetic (now + timeout) far from overflow. */
#define TIMEOUT_MAX_MS (365ull * 24 * 3600 * 1000)
#define POLL_INTERVAL_MIN_MS 100
#define POLL_INTERVAL_MAX_MS (24ull * 3600 * 1000)

/* The defaults of the file form; the environment form then sets its own. */
void config_init(struct config *c, const char *origin);
void config_app_init(struct app_config *a);

/* Single values. */
bool config_check_abs_path(struct record_ctx *ck, const char *field, const char *s);
bool config_check_source(struct record_ctx *ck, const char *field, const char *s);
bool config_check_env_segment(struct record_ctx *ck, const char *field, const char *s);
bool config_check_cookie(struct record_ctx *ck, const char *field, const char *s);
bool config_check_password_hash(struct record_ctx *ck, const char *field, const char *s);
bool config_check_app_name(struct record_ctx *ck, const char *field, const char *s);
bool config_check_language(struct record_ctx *ck, const char *field, const char *s,
                           enum language *ret);

/*
 * Across fields.  healthy_after_ms must stay below rollback_timeout_ms: the
 * file form blames healthy_field, the environment form (which can only set
 * the rollback timeout) passes healthy_field NULL and blames rollback_field.
 * No two port ranges (fields[k] names the k-th, in app and port order) may
 * share a port, nor the admin UI's listen port (0: none).
 */
void config_check_timeouts(struct record_ctx *ck, const struct app_config *a,
                           const char *healthy_field, const char *rollback_field);
void config_check_port_overlaps(struct record_ctx *ck, const struct config *c,
                                const char *const *fields, const char *listen_field,
                                int listen_port);

#endif
