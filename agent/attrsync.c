/* attrsync.c: the attribute sync loop.  One sync at a time: desired set ->
 * DescribeContainerInstances -> PutAttributes batches -> DeleteAttributes
 * batches -> save the owned names.  Failures back off and retry; a request
 * that arrives mid-sync sets `again` and runs after it. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "attributes.h"
#include "attrsync.h"
#include "event-util.h"
#include "log.h"
#include "macro.h"

#define DEBOUNCE_USEC 200000 /* editors write a file in several steps */
#define RETRY_FIRST_USEC (1ULL * 1000000)
#define RETRY_MAX_USEC (60ULL * 1000000)

struct attrsync {
        struct aws_clients *aws;  /* borrowed */
        const struct config *cfg; /* borrowed: a reload makes a new attrsync */
        struct state *state;      /* borrowed: the registration's */
        attrsync_callback_t cb;
        void *userdata;

        bool running, again;
        struct ecs_call *call;
        sd_event_source *timer;
        sd_event_source *watch;  /* the attributes directory */
        sd_event_source *parent; /* its parent: the directory made or replaced */
        uint64_t backoff;

        struct attribute_set desired, put, del;
        size_t put_next, del_next;
        const struct attribute_set *batch_set; /* the batch in flight: set[from, to) */
        size_t batch_from, batch_to;
        char message[1024];
};

static void sync_start(struct attrsync *s);

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        struct attrsync *s = userdata;
        (void)src, (void)usec;
        s->timer = sd_event_source_disable_unref(s->timer);
        sync_start(s);
        return 0;
}

static void arm(struct attrsync *s, uint64_t usec) {
        s->timer = sd_event_source_disable_unref(s->timer);
        if (sd_event_add_time_relative(s->aws->event, &s->timer, CLOCK_MONOTONIC, usec,
                                       TIMER_ACCURACY_USEC, on_timer, s) < 0)
                log_error("Failed to schedule an attribute sync");
}

static void clear_work(struct attrsync *s) {
        attribute_set_done(&s->desired);
        attribute_set_done(&s->put);
        attribute_set_done(&s->del);
        s->put_next = s->del_next = 0;
}

/* End of one sync: report, then run again if asked meanwhile, or back off
 * after a failure. */
static void sync_end(struct attrsync *s, int error, bool retry, const char *fmt, ...)
        _printf_(4, 5);
static void sync_end(struct attrsync *s, int error, bool retry, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(s->message, sizeof s->message, fmt, ap);
        va_end(ap);
        clear_work(s);
        s->running = false;
        if (error == 0)
                s->backoff = 0;
        else if (retry) {
                s->backoff = s->backoff ? s->backoff * 2 : RETRY_FIRST_USEC;
                if (s->backoff > RETRY_MAX_USEC)
                        s->backoff = RETRY_MAX_USEC;
                arm(s, s->backoff);
        }
        if (s->again && !s->timer) {
                s->again = false;
                arm(s, 0);
        }
        s->cb(error, s->message, s->userdata);
}

/* Remember the names of the attributes we own, in memory and on disk.  A
 * failure is logged: the sync goes on, and at worst a restart forgets to
 * delete an attribute it put. */
static void save_owned(struct attrsync *s, const struct attribute_set *owned) {
        _cleanup_free_ char **names = calloc(owned->n + 1, sizeof(char *));
        int r;

        if (!names) {
                log_error("Out of memory remembering the owned attributes");
                return;
        }
        for (size_t i = 0; i < owned->n; i++)
                names[i] = owned->v[i].name;
        r = state_set_owned(s->state, names, owned->n);
        if (r >= 0)
                r = state_save(config_string(s->cfg, KEY_ECS_HOSTD_DATADIR), s->state);
        if (r < 0)
                log_error_errno(r, "Failed to save the owned attributes: %m");
}

static int owned_set(const struct state *st, struct attribute_set *ret) {
        for (size_t i = 0; i < st->n_owned_attributes; i++) {
                int r = attribute_set_put(ret, st->owned_attributes[i], NULL, "state");
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The owned names after the batch in flight: puts added, deletes removed. */
static int owned_after_batch(const struct attrsync *s, struct attribute_set *ret) {
        int r = owned_set(s->state, ret);

        for (size_t i = s->batch_from; r >= 0 && i < s->batch_to; i++) {
                if (s->batch_set == &s->put)
                        r = attribute_set_put(ret, s->put.v[i].name, NULL, "state");
                else
                        (void)attribute_set_remove(ret, s->del.v[i].name); /* -ENOENT: not ours */
        }
        return r;
}

static void step(struct attrsync *s);

static void on_changed(const struct ecs_result *res, void *userdata) {
        struct attrsync *s = userdata;
        struct attribute_set owned = {};
        int r;

        s->call = NULL;
        if (res->error) {
                sync_end(s, res->error, true, "%s", res->message);
                return;
        }
        /* Record what this batch changed before going on. */
        r = owned_after_batch(s, &owned);
        if (r >= 0)
                save_owned(s, &owned);
        attribute_set_done(&owned);
        if (r < 0) {
                sync_end(s, r, true, "cannot record the owned attributes: %s", strerror(-r));
                return;
        }
        step(s);
}

/* Send the next batch of puts, then of deletes. */
static void step(struct attrsync *s) {
        const struct attribute_set *set;
        size_t *next;
        const char *op;
        cJSON *req, *list;
        int r;

        if (s->put_next < s->put.n)
                set = &s->put, next = &s->put_next, op = "PutAttributes";
        else if (s->del_next < s->del.n)
                set = &s->del, next = &s->del_next, op = "DeleteAttributes";
        else {
                sync_end(s, 0, false, "custom attributes in sync: %zu put, %zu deleted", s->put.n,
                         s->del.n);
                return;
        }
        s->batch_set = set;
        s->batch_from = *next;
        req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "cluster", s->state->cluster);
        list = cJSON_AddArrayToObject(req, "attributes");
        for (size_t n = 0; *next < set->n && n < ATTRIBUTES_MAX_PER_CALL; n++, (*next)++) {
                const struct attribute *a = &set->v[*next];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", a->name);
                if (a->value && set == &s->put)
                        cJSON_AddStringToObject(o, "value", a->value);
                cJSON_AddStringToObject(o, "targetId", s->state->container_instance_arn);
                cJSON_AddItemToArray(list, o);
                log_info("%s %s%s%s on %s",
                         set == &s->put ? "Putting attribute" : "Deleting attribute", a->name,
                         a->value && set == &s->put ? "=" : "",
                         a->value && set == &s->put ? a->value : "",
                         s->state->container_instance_arn);
        }
        s->batch_to = *next;
        r = ecs_call(s->aws->ecs, op, req, on_changed, s, &s->call);
        cJSON_Delete(req);
        if (r < 0)
                sync_end(s, r, true, "cannot call %s: %s", op, strerror(-r));
}

static void on_described(const struct ecs_result *res, void *userdata) {
        struct attrsync *s = userdata;
        struct attribute_set actual = {}, owned = {};
        const cJSON *ci, *item;
        int r = 0;

        s->call = NULL;
        if (res->error) {
                sync_end(s, res->error, true, "%s", res->message);
                return;
        }
        ci = cJSON_GetArrayItem(
                cJSON_GetObjectItemCaseSensitive(res->response, "containerInstances"), 0);
        if (!ci) {
                sync_end(s, -ENOENT, true, "ECS does not know container instance %s",
                         s->state->container_instance_arn);
                return;
        }
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(ci, "attributes")) {
                const char *name =
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "name"));
                const char *value =
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "value"));
                if (name && !attribute_is_builtin(name) &&
                    (r = attribute_set_put(&actual, name, value, "ECS")) < 0)
                        break;
        }
        if (r >= 0)
                r = owned_set(s->state, &owned);
        if (r >= 0)
                r = attributes_diff(&s->desired, &actual, &owned, &s->put, &s->del);
        attribute_set_done(&actual);
        attribute_set_done(&owned);
        if (r < 0) {
                sync_end(s, r, true, "cannot compare attributes: %s", strerror(-r));
                return;
        }
        step(s);
}

/* The desired set, or the errors that make it unusable. */
static int read_desired(const struct config *cfg, struct attribute_set *ret, struct errors *errs) {
        struct attribute_file *files = NULL;
        size_t n_files = 0;
        int r;

        r = attributes_read_dir(config_string(cfg, KEY_ECS_HOSTD_ATTRIBUTES_DIR), &files, &n_files,
                                errs);
        if (r >= 0 && errs->n == 0)
                r = attributes_desired(config_string(cfg, KEY_ECS_INSTANCE_ATTRIBUTES), files,
                                       n_files, ret, errs);
        attribute_files_free(files, n_files);
        return errs->n ? -EINVAL : r;
}

static void sync_start(struct attrsync *s) {
        struct errors errs = {};
        cJSON *req;
        int r;

        if (s->running) {
                s->again = true;
                return;
        }
        s->running = true;
        s->again = false;
        clear_work(s);
        r = read_desired(s->cfg, &s->desired, &errs);
        if (r < 0) {
                log_errors(LOG_ERR, &errs);
                errors_done(&errs);
                /* Nothing is sent until the files are fixed (a change re-triggers). */
                sync_end(s, -EINVAL, false,
                         "the configured attributes are invalid; nothing changed in ECS");
                return;
        }
        req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "cluster", s->state->cluster);
        cJSON_AddItemToObject(
                req, "containerInstances",
                cJSON_CreateStringArray((const char *const *)&s->state->container_instance_arn, 1));
        r = ecs_call(s->aws->ecs, "DescribeContainerInstances", req, on_described, s, &s->call);
        cJSON_Delete(req);
        if (r < 0)
                sync_end(s, r, true, "cannot call DescribeContainerInstances: %s", strerror(-r));
}

/* A change: coalesce the burst of events one save makes into one sync. */
static void changed(struct attrsync *s) {
        if (!s->running && !s->timer)
                arm(s, DEBOUNCE_USEC);
        else if (s->running)
                s->again = true;
}

static int on_inotify(sd_event_source *src, const struct inotify_event *ev, void *userdata) {
        (void)src, (void)ev;
        changed(userdata);
        return 0;
}

/* Watch the directory itself (again): -errno when it cannot be (missing). */
static int watch_dir(struct attrsync *s) {
        s->watch = sd_event_source_disable_unref(s->watch);
        return sd_event_add_inotify(s->aws->event, &s->watch,
                                    config_string(s->cfg, KEY_ECS_HOSTD_ATTRIBUTES_DIR),
                                    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                            IN_CREATE | IN_ATTRIB | IN_ONLYDIR,
                                    on_inotify, s);
}

/* Something named like the directory came or went in its parent: it was
 * made, removed or replaced (mv new attributes.d), so watch what is there
 * now and sync. */
static int on_parent(sd_event_source *src, const struct inotify_event *ev, void *userdata) {
        struct attrsync *s = userdata;
        _cleanup_free_ char *copy = strdup(config_string(s->cfg, KEY_ECS_HOSTD_ATTRIBUTES_DIR));
        const char *base = copy ? basename(copy) : NULL;

        (void)src;
        if (!base || ev->len == 0 || strcmp(ev->name, base) != 0)
                return 0;
        (void)watch_dir(s); /* gone: the parent says when it is back */
        changed(s);
        return 0;
}

static void watch(struct attrsync *s) {
        const char *dir = config_string(s->cfg, KEY_ECS_HOSTD_ATTRIBUTES_DIR);
        _cleanup_free_ char *parent = strdup(dir);
        int r, rp = -ENOMEM;

        r = watch_dir(s);
        if (parent)
                rp = sd_event_add_inotify(s->aws->event, &s->parent, dirname(parent),
                                          IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                                  IN_ONLYDIR,
                                          on_parent, s);
        if (r < 0 && rp < 0)
                log_info_errno(r, "Not watching %s (%m); SIGHUP rereads it", dir);
        else if (r < 0)
                log_info("%s does not exist yet; watching for it", dir);
}

int attrsync_new(struct attrsync **ret, struct aws_clients *aws, const struct config *cfg,
                 struct state *state, attrsync_callback_t cb, void *userdata) {
        struct attrsync *s;

        if (!ret || !aws || !aws->ecs || !cfg || !state || !cb)
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->aws = aws;
        s->cfg = cfg;
        s->state = state;
        s->cb = cb;
        s->userdata = userdata;
        watch(s);
        *ret = s;
        return 0;
}

struct attrsync *attrsync_free(struct attrsync *s) {
        if (!s)
                return NULL;
        ecs_call_cancel(s->call);
        sd_event_source_disable_unref(s->timer);
        sd_event_source_disable_unref(s->watch);
        sd_event_source_disable_unref(s->parent);
        clear_work(s);
        free(s);
        return NULL;
}

void attrsync_request(struct attrsync *s) {
        if (!s)
                return;
        if (s->running)
                s->again = true;
        else
                arm(s, 0);
}

int attrsync_check_config(const struct config *cfg, struct errors *errs) {
        struct attribute_set set = {};
        struct errors found = {};
        unsigned line;
        const char *file = config_origin(cfg, KEY_ECS_INSTANCE_ATTRIBUTES, &line);
        size_t n;
        int r;

        r = read_desired(cfg, &set, &found);
        attribute_set_done(&set);
        n = found.n;
        /* An error about ECS_INSTANCE_ATTRIBUTES is one about the file and
         * line (or the environment) that set it, as the other keys' are. */
        for (size_t i = 0; r != -ENOMEM && i < n; i++) {
                const struct error *e = &found.v[i];
                if (streq_ptr(e->source, config_key_name(KEY_ECS_INSTANCE_ATTRIBUTES)) && file)
                        r = errors_add(errs, file, line, "%s: %s", e->source, e->message);
                else
                        r = errors_add(errs, e->source, e->line, "%s", e->message);
        }
        errors_done(&found);
        if (r == -ENOMEM)
                return r;
        return n > 0 ? -EINVAL : 0;
}
