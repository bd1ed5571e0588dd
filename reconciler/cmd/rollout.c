/*
 * Fleet rollouts (DESIGN §10, docs/fleet.md), the bucket side:
 *
 *   rollout [--json] APP
 *       every slot of the rollout of APP's published version: host, state,
 *       ready/total, the age of its last beat (writer's clock), and the verdict
 *   __fleet APP VERSION STATE READY TOTAL TAKEOVER FINGERPRINT [REASON]
 *       the daemon's job, every heartbeat_ms while VERSION rolls out: claim a
 *       slot (persisted in state/APP/rollout.json) or refresh this host's one
 *       with STATE (waiting|deploying|ready|failed) and READY/TOTAL, abandon
 *       slot TAKEOVER (-1 = none) if its bytes still have FINGERPRINT (a
 *       stale slot 0 fails VERSION), write the verdict when STATE is failed
 *       (REASON), then answer what it read (the daemon's view of every slot,
 *       reconciler/jobs/answer.h)
 *
 * The files live on file://, s3:// or gs:// alike (buckets/fleet_store.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buckets/fleet_store.h"
#include "buckets/source.h"
#include "reconciler/cmd/cli.h"
#include "reconciler/jobs/answer.h"
#include "reconciler/shared/desired_load.h"
#include "state/fleet.h"
#include "state/json.h"
#include "state/paths.h"
#include "base/banned.h"

/* The store of APP's rollout of version, or NULL after printing why. */
static struct fleet_store *open_store(const struct config *c, const char *app, const char *version)
{
        struct fleet_store *s = NULL;
        struct buf err = BUF_INIT;

        if (fleet_store_open(c, app, version, &s, &err) < 0)
                fprintf(stderr, "deployex: %s\n", err.data);
        buf_release(&err);
        return s;
}

/* The job's answer (answer.h): what the daemon's fleet gate decides on. */
static int answer_view(const struct fleet_view *v, const char *verdict_by)
{
        struct answer_object a;
        yajl_gen g = answer_object_begin(&a);
        char fp[17];

        json_gen_kv_int(g, "mine", v->mine);
        json_gen_str(g, "verdict");
        if (v->verdict_failed) {
                yajl_gen_map_open(g);
                json_gen_kv_str(g, "by", verdict_by);
                json_gen_kv_str(g, "reason", v->verdict_reason);
                yajl_gen_map_close(g);
        } else {
                yajl_gen_null(g);
        }
        json_gen_str(g, "slots");
        yajl_gen_array_open(g);
        for (int k = 0; k < v->nslots; k++) {
                const struct fleet_slot *s = &v->slots[k];

                if (s->state == FLEET_SLOT_ABSENT)
                        continue;
                yajl_gen_map_open(g);
                json_gen_kv_int(g, "slot", k);
                json_gen_kv_str(g, "state", fleet_slot_state_to_string(s->state));
                json_gen_kv_int(g, "ready", s->ready);
                json_gen_kv_int(g, "total", s->total);
                json_gen_kv_int(g, "beat", (long long)s->beat);
                /* Hex in a string: a 64-bit hash does not fit a JSON integer. */
                snprintf(fp, sizeof(fp), "%016" PRIx64, s->fingerprint);
                json_gen_kv_str(g, "fingerprint", fp);
                json_gen_kv_str(g, "host", s->host);
                yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
        return answer_object_end(&a);
}

/* The holder of slot 0 keeps the bucket tidy: old rollout folders go (docs/fleet.md). */
static void prune_old_rollouts(struct fleet_store *store)
{
        struct buf err = BUF_INIT;
        int deleted = 0;

        if (fleet_store_prune(store, &deleted, &err) < 0)
                fprintf(stderr, "cannot prune old rollout folders: %s\n", err.data);
        else if (deleted)
                fprintf(stderr, "pruned %d old rollout folder%s (the %d newest are kept)\n",
                        deleted, deleted == 1 ? "" : "s", FLEET_KEEP_VERSIONS);
        buf_release(&err);
}

static int run_fleet(const struct cli *cli, int argc, char **argv)
{
        static struct fleet_view v;
        static uint64_t at[FLEET_SLOTS_MAX];
        char verdict_by[FLEET_HOST_MAX + 1];
        struct buf claim_path = BUF_INIT, text = BUF_INIT, err = BUF_INIT;
        struct fleet_store *store = NULL;
        const struct app_config *app;
        const char *version, *reason;
        enum fleet_slot_state st;
        struct fleet_claim cl;
        uint64_t now = time_now_ms(), fp = 0;
        int ready, total, takeover, r;
        bool claimed = false, wrote = false;
        struct config c;

        if (argc != 8 && argc != 9)
                return cli_usage_error(&cmd_x_fleet, "expected APP VERSION STATE READY TOTAL "
                                                     "TAKEOVER FINGERPRINT [REASON]");
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        r = EXIT_FAIL;
        version = argv[2];
        reason = argc == 9 ? argv[8] : "failed";
        if (!(app = cli_find_app(&c, argv[1])))
                goto out;
        if (!c.has_fleet || !version_is_valid(version) ||
            fleet_slot_state_from_string(argv[3], &st) < 0 || st == FLEET_SLOT_ABANDONED ||
            parse_int(argv[4], &ready) < 0 || parse_int(argv[5], &total) < 0 ||
            parse_int(argv[6], &takeover) < 0) {
                fprintf(stderr, "__fleet: bad arguments (or no \"fleet\" in the configuration)\n");
                goto out;
        }
        if (!(store = open_store(&c, app->name, version)))
                goto out;
        fp = strtoull(argv[7], NULL, 16);
        path_rollout(&c, app->name, &claim_path);
        if (fleet_claim_load(claim_path.data, &cl) < 0 || strcmp(cl.version, version) != 0) {
                memset(&cl, 0, sizeof(cl));
                str_copy(cl.version, sizeof(cl.version), version);
                cl.slot = -1;
        }
        /*
         * This host ready on its slot: its turn is over and the others' slots decide
         * nothing here any more; only a verdict can still change something.
         */
        r = cl.slot >= 0 && st == FLEET_SLOT_READY && takeover < 0
                    ? fleet_store_read_mine(store, cl.slot, &v, at, verdict_by, &err)
                    : fleet_store_read(store, &v, at, verdict_by, &err);
        if (r < 0) {
                r = EXIT_FAIL;
                fprintf(stderr, "%s\n", err.data);
                goto out;
        }
        r = EXIT_FAIL;

        /* Take over a stale slot, only if it is still what the daemon saw. */
        if (takeover >= 0 && takeover < v.nslots && !v.verdict_failed) {
                const struct fleet_slot *s = &v.slots[takeover];

                buf_reset(&text);
                fleet_slot_format(s->host, FLEET_SLOT_ABANDONED, s->ready, s->total, s->beat + 1,
                                  now, &text);
                buf_reset(&err);
                if (fleet_store_replace(store, takeover, fp, text.data, text.len, &err) == 0) {
                        wrote = true;
                        fprintf(stderr, "slot %d of %s abandoned: unchanged for stale_after_ms\n",
                                takeover, s->host);
                        if (takeover == 0) {
                                char why[FLEET_REASON_MAX];

                                snprintf(why, sizeof(why), "the canary %s went stale (slot 0 "
                                         "unchanged for %" PRIu64 " ms)", s->host,
                                         c.fleet_stale_after_ms);
                                buf_reset(&err);
                                if (fleet_store_verdict(store, c.fleet_host, why, now, &err) < 0) {
                                        fprintf(stderr, "%s\n", err.data);
                                        goto out;
                                }
                        }
                } else if (err.len) {
                        fprintf(stderr, "%s\n", err.data);
                        goto out;
                }
        }
        buf_reset(&err);
        if (st == FLEET_SLOT_FAILED && !v.verdict_failed) {
                if (fleet_store_verdict(store, c.fleet_host, reason, now, &err) < 0) {
                        fprintf(stderr, "%s\n", err.data);
                        goto out;
                }
                wrote = true;
        }

        if (!v.verdict_failed || st == FLEET_SLOT_FAILED) {
                bool lost = false;

                if (cl.slot >= 0) {
                        const struct fleet_slot *mine = cl.slot < v.nslots ? &v.slots[cl.slot] : NULL;
                        /* ready and failed are final: the slot stops changing (no heartbeat). */
                        bool settled = mine && mine->state == st && mine->ready == ready &&
                                       (st == FLEET_SLOT_READY || st == FLEET_SLOT_FAILED);

                        /*
                         * Bytes this host never recorded, still naming it and not abandoned:
                         * its own last write, whose save to rollout.json a kill cut short
                         * (the PUT landed, the job died).  Only a takeover (state abandoned)
                         * takes a slot from a host; anything else is still this host's turn.
                         */
                        if (mine && mine->fingerprint != cl.fingerprint &&
                            mine->state != FLEET_SLOT_ABANDONED &&
                            strcmp(mine->host, c.fleet_host) == 0) {
                                cl.fingerprint = mine->fingerprint;
                                cl.beat = mine->beat;
                        }
                        if (!settled) {
                                buf_reset(&text);
                                buf_reset(&err);
                                fleet_slot_format(c.fleet_host, st, ready, total, cl.beat + 1, now, &text);
                                int w = fleet_store_replace(store, cl.slot, cl.fingerprint,
                                                            text.data, text.len, &err);
                                wrote = true;
                                if (w == 0) {
                                        cl.beat++;
                                        cl.fingerprint = fleet_fingerprint(text.data, text.len);
                                } else if (w == -ESTALE || w == -ENOENT) {
                                        fprintf(stderr, "slot %d was taken from this host: joining "
                                                        "again at the end\n", cl.slot);
                                        lost = true;
                                } else {
                                        fprintf(stderr, "cannot write slot %d: %s\n", cl.slot,
                                                err.len ? err.data : strerror(-w));
                                        goto out;
                                }
                        }
                }
                if (cl.slot < 0 || lost) {
                        int first = c.fleet_canaries && !c.fleet_canary ? 1 : 0;

                        buf_reset(&text);
                        buf_reset(&err);
                        cl.beat = 1;
                        fleet_slot_format(c.fleet_host, st, ready, total, cl.beat, now, &text);
                        if (fleet_store_claim(store, first, text.data, text.len, &cl.slot,
                                              &cl.fingerprint, &err) < 0) {
                                fprintf(stderr, "%s\n", err.data);
                                goto out;
                        }
                        claimed = wrote = true;
                }
                /* Persisted before anyone acts on it: a restarted daemon resumes this turn. */
                if (fleet_claim_save(claim_path.data, &cl) < 0) {
                        fprintf(stderr, "cannot write '%s'\n", claim_path.data);
                        goto out;
                }
        }
        if (claimed && cl.slot == 0)
                prune_old_rollouts(store);
        /* What the daemon decides on: read again only if this job changed it. */
        buf_reset(&err);
        if (wrote && fleet_store_read(store, &v, at, verdict_by, &err) < 0) {
                fprintf(stderr, "%s\n", err.data);
                goto out;
        }
        v.mine = cl.slot;
        r = answer_view(&v, verdict_by) < 0 ? EXIT_FAIL : EXIT_OK;
out:
        fleet_store_free(store);
        config_release(&c);
        buf_release(&claim_path);
        buf_release(&text);
        buf_release(&err);
        return r;
}

static int run_rollout(const struct cli *cli, int argc, char **argv)
{
        static struct fleet_view v;
        static uint64_t at[FLEET_SLOTS_MAX];
        char verdict_by[FLEET_HOST_MAX + 1];
        struct buf path = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
        struct fleet_store *store = NULL;
        const struct app_config *app;
        const char *name;
        struct desired want;
        struct fleet_claim cl;
        uint64_t now = time_now_ms();
        struct config c;
        bool json;
        int r;

        if ((r = cli_parse_json_app(&cmd_rollout, argc, argv, true, &json, &name)) != EXIT_OK)
                return r;
        if ((r = cli_load_config(cli, &c)) != EXIT_OK)
                return r;
        r = EXIT_FAIL;
        memset(&want, 0, sizeof(want));
        if (!(app = cli_find_app(&c, name)))
                goto out;
        if (!c.has_fleet) {
                fprintf(stderr, "deployex: no \"fleet\" in %s: every host deploys at once\n", c.origin);
                goto out;
        }
        /*
         * The version rolling out: the one the bucket publishes, asked now
         * (not only the daemon's last good one: the reader works while no
         * daemon has run, DESIGN §3).  An unreachable bucket falls back on it.
         */
        {
                struct source *src = NULL;

                if (source_open(&c, &src, &err) < 0)
                        src = NULL;
                desired_load(&c, app, src, src ? NULL : err.data, false, &want);
                source_free(src);
                buf_reset(&err);
        }
        if (want.origin == DESIRED_NONE || !want.release.version[0]) {
                fprintf(stderr, "deployex: %s: nothing published yet%s%s\n", app->name,
                        want.error ? ": " : "", want.error ? want.error : "");
                goto out;
        }
        path_rollout(&c, app->name, &path);
        if (fleet_claim_load(path.data, &cl) < 0 || strcmp(cl.version, want.release.version) != 0)
                cl.slot = -1;
        if (!(store = open_store(&c, app->name, want.release.version)))
                goto out;
        if (fleet_store_read(store, &v, at, verdict_by, &err) < 0) {
                fprintf(stderr, "deployex: %s\n", err.data);
                goto out;
        }
        if (json) {
                yajl_gen g = json_gen_new(&out);

                yajl_gen_map_open(g);
                json_gen_kv_str(g, "app", app->name);
                json_gen_kv_str(g, "version", want.release.version);
                json_gen_kv_str(g, "host", c.fleet_host);
                json_gen_kv_int(g, "mine", cl.slot);
                json_gen_str(g, "verdict");
                if (v.verdict_failed) {
                        yajl_gen_map_open(g);
                        json_gen_kv_str(g, "result", "failed");
                        json_gen_kv_str(g, "by", verdict_by);
                        json_gen_kv_str(g, "reason", v.verdict_reason);
                        yajl_gen_map_close(g);
                } else {
                        yajl_gen_null(g);
                }
                json_gen_str(g, "slots");
                yajl_gen_array_open(g);
                for (int k = 0; k < v.nslots; k++) {
                        const struct fleet_slot *s = &v.slots[k];

                        if (s->state == FLEET_SLOT_ABSENT)
                                continue;
                        yajl_gen_map_open(g);
                        json_gen_kv_int(g, "slot", k);
                        json_gen_kv_str(g, "host", s->host);
                        json_gen_kv_str(g, "state", fleet_slot_state_to_string(s->state));
                        json_gen_kv_int(g, "ready", s->ready);
                        json_gen_kv_int(g, "total", s->total);
                        json_gen_kv_int(g, "beat", (long long)s->beat);
                        json_gen_kv_int(g, "beat_age_ms",
                                        at[k] && now > at[k] ? (long long)(now - at[k]) : 0);
                        yajl_gen_map_close(g);
                }
                yajl_gen_array_close(g);
                yajl_gen_map_close(g);
                yajl_gen_free(g);
                printf("%s\n", out.data);
        } else {
                printf("%s %s: rollout (this host: %s, slot %d)\n", app->name, want.release.version,
                       c.fleet_host, cl.slot);
                for (int k = 0; k < v.nslots; k++) {
                        const struct fleet_slot *s = &v.slots[k];

                        if (s->state == FLEET_SLOT_ABSENT)
                                continue;
                        printf("  slot %d  %-16s %-9s %d/%d  beat %.1f s ago\n", k, s->host,
                               fleet_slot_state_to_string(s->state), s->ready, s->total,
                               at[k] && now > at[k] ? (double)(now - at[k]) / 1000.0 : 0.0);
                }
                if (v.nslots == 0)
                        printf("  no slot claimed yet\n");
                printf("  verdict: %s\n", v.verdict_failed ? v.verdict_reason : "none");
        }
        r = EXIT_OK;
out:
        desired_release(&want);
        fleet_store_free(store);
        config_release(&c);
        buf_release(&path);
        buf_release(&out);
        buf_release(&err);
        return r;
}

const struct cli_command cmd_rollout = {
        .name = "rollout",
        .usage = "rollout [--json] APP",
        .summary = "show the fleet rollout of APP's published version",
        .help = "Every slot of rollout/{app}/{env}/{version}/ in the bucket for the version\n"
                "current.json publishes: slot, host, state (waiting, deploying, ready, failed,\n"
                "abandoned), ready/total instances, the age of its last beat, and the verdict.\n"
                "Needs \"fleet\" in the configuration; works on file://, s3:// and gs://.\n"
                "See docs/fleet.md.\n",
        .run = run_rollout,
};

const struct cli_command cmd_x_fleet = {
        .name = "__fleet",
        .usage = "__fleet APP VERSION STATE READY TOTAL TAKEOVER FINGERPRINT [REASON]",
        .summary = "(internal) claim or refresh this host's rollout slot, read the others",
        .help = "",
        .run = run_fleet,
};
