/*
 * webhook: the notification queue on disk and its delivery (DESIGN §4.1,
 * §11).  An event becomes one file per notify target that asks for it,
 *
 *     {var_path}/state/notify/queue/{event id}-{target}.json
 *     {"id", "event", "target", "url", "body": {...}, "attempts", "first_at",
 *      "next_at", "last_error"}
 *
 * written atomically and never overwritten, so that enqueueing the same
 * event twice (a crash between enqueue and the cursor's save) delivers it
 * once per target; receivers see the id in the body and in
 * X-Deployex-Delivery for at-least-once deduplication.  Delivery POSTs the
 * body (JSON, or Slack's {"text"} format) with
 *
 *     X-Deployex-Signature: sha256=HEX(HMAC-SHA256(secret_file, body))
 *
 * A 2xx removes the file; anything else reschedules it with backoff
 * (WEBHOOK_RETRY_FIRST_MS doubling up to WEBHOOK_RETRY_MAX_MS) until
 * WEBHOOK_GIVE_UP_MS after the first try, then it moves to notify/failed/.
 * Nothing here runs in the daemon's loop: the `__notify` job calls it.
 */
#ifndef DEPLOYEX_WEBHOOK_H
#define DEPLOYEX_WEBHOOK_H

#include <stdint.h>

#include "state/config.h"
#include "base/util.h"

#define WEBHOOK_RETRY_FIRST_MS 2000
#define WEBHOOK_RETRY_MAX_MS (5 * 60 * 1000)
#define WEBHOOK_GIVE_UP_MS (24ULL * 3600 * 1000)
#define WEBHOOK_TIMEOUT_MS 10000

/*
 * Queue event (bit) with body (a JSON object, as text) and id for every
 * target that asks for it.  0, or -errno with err.
 */
int webhook_enqueue(const struct config *c, enum notify_event event, const char *id,
                    const char *body, uint64_t now_ms, struct buf *err);

/* Try every due delivery once.  Counts what was sent and what failed. */
void webhook_deliver_due(const struct config *c, uint64_t now_ms, unsigned *ret_sent,
                         unsigned *ret_failed, struct buf *log);

/* What is waiting: queued count, given-up count, the newest error ("" none). */
struct webhook_status {
        unsigned queued;
        unsigned failed;
        uint64_t last_error_at;
        char last_error[256];
};
void webhook_status(const struct config *c, struct webhook_status *ret);

/* HMAC-SHA256 of body with key, as 64 hex digits. */
void webhook_sign(const void *key, size_t key_len, const char *body, size_t len, char ret[65]);

#endif
