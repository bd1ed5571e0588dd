#include <stdlib.h>
#include <string.h>

#include "reconciler/shared/app_view.h"
#include "reconciler/shared/desired_load.h"
#include "state/fleet.h"
#include "state/paths.h"
#include "base/banned.h"

void app_view_load(const struct config *c, const struct app_config *app, struct source *src,
                   bool persist, struct app_view *ret)
{
        struct buf path = BUF_INIT;
        struct app_view v;

        memset(&v, 0, sizeof(v));
        buf_init(&v.errors);
        v.app = app;
        desired_load(c, app, src, NULL, persist, &v.desired);
        path_instances_dir(c, app->name, &path);
        if (instance_records_load_dir(path.data, &v.records, &v.nrecords, &v.errors) < 0) {
                v.records = NULL;
                v.nrecords = 0;
        }
        path_ghosts(c, app->name, &path);
        if (ghosts_load(path.data, &v.ghosts, &v.errors) < 0)
                memset(&v.ghosts, 0, sizeof(v.ghosts));
        path_deferred(c, app->name, &path);
        if (deferred_load(path.data, &v.deferred, &v.errors) < 0)
                memset(&v.deferred, 0, sizeof(v.deferred));
        v.has_fleet = c->has_fleet;
        if (c->has_fleet) {
                path_fleet_turn(c, app->name, &path);
                (void)fleet_turn_load(path.data, v.fleet.version, &v.fleet.go, v.fleet.reason,
                                      sizeof(v.fleet.reason));
                path_rollout(c, app->name, &path);
                if (fleet_claim_load(path.data, &v.claim) < 0)
                        v.claim.slot = -1;
        }
        buf_release(&path);
        *ret = v;
}

void app_view_plan_input(const struct app_view *v, struct plan_input *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->app = v->app;
        ret->desired = &v->desired;
        ret->instances = v->records;
        ret->ninstances = v->nrecords;
        ret->ghosts = &v->ghosts;
        ret->deferred = v->deferred.version[0] ? &v->deferred : NULL;
        ret->fleet = v->has_fleet ? &v->fleet : NULL;
}

int app_view_instance_count(const struct app_view *v)
{
        int max = v->app->replicas;

        for (size_t i = 0; i < v->nrecords; i++)
                if (v->records[i].instance > max)
                        max = v->records[i].instance;
        return max;
}

const struct instance_record *app_view_record(const struct app_view *v, int n)
{
        for (size_t i = 0; i < v->nrecords; i++)
                if (v->records[i].instance == n)
                        return &v->records[i];
        return NULL;
}

void app_view_release(struct app_view *v)
{
        desired_release(&v->desired);
        free(v->records);
        ghosts_release(&v->ghosts);
        buf_release(&v->errors);
        memset(v, 0, sizeof(*v));
}
