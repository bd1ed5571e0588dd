/*
 * app_view: everything known about one app at one moment — configuration,
 * desired state, instance records, ghosts — read from disk (and the source)
 * in one call.  The readers build their planner input from it: the CLI's
 * plan and status, the status document (report.c: status --json and the web
 * UI) and the metrics page (metrics.c).  The daemon does not: it keeps each
 * app's desired state and records in memory across wake-ups and plans from
 * those (reconciler/daemon/daemon.c).
 *
 *     struct app_view v;  app_view_load(cfg, app, src, persist, &v);
 *     plan_compute(&(struct plan_input){...from v...}, now, &plan);
 *     app_view_release(&v);
 */
#ifndef DEPLOYEX_APP_VIEW_H
#define DEPLOYEX_APP_VIEW_H

#include "reconciler/core/plan.h"
#include "state/desired.h"
#include "state/fleet.h"
#include "state/ghosts.h"
#include "state/instance.h"
#include "buckets/source.h"

struct app_view {
        const struct app_config *app;
        struct desired desired;
        struct instance_record *records; /* sorted by instance */
        size_t nrecords;
        struct ghost_list ghosts;
        struct deferred deferred; /* version "" = nothing deferred */
        bool has_fleet;           /* fleet mode: fleet is the daemon's last gate */
        struct plan_fleet fleet;
        struct fleet_claim claim; /* this host's slot (state/{app}/rollout.json), slot -1 = none */
        struct buf errors; /* unreadable records and the like, "; " separated */
};

void app_view_load(const struct config *c, const struct app_config *app, struct source *src,
                   bool persist, struct app_view *ret);
void app_view_plan_input(const struct app_view *v, struct plan_input *ret);
/* Instances 1..replicas, then any recorded beyond (scaled down, not yet removed). */
int app_view_instance_count(const struct app_view *v);
/* The record of instance n, or NULL. */
const struct instance_record *app_view_record(const struct app_view *v, int n);
void app_view_release(struct app_view *v);

#endif
