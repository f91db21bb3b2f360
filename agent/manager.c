/* manager.c: the daemon's one sd-event loop.  Signals are event sources
 * (SIGTERM/SIGINT stop, SIGHUP reloads), the systemd watchdog is a timer, and
 * every AWS conversation is asynchronous on this loop.  Startup never gives
 * up on a transient failure: it retries with capped backoff and says in
 * STATUS= what it is waiting for.  The manager alone writes STATUS=: its own
 * phase, or the watcher's line while a notice is handled. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "attrsync.h"
#include "aws-clients.h"
#include "escape.h"
#include "event-util.h"
#include "fileio.h"
#include "hook.h"
#include "hostd-metrics.h"
#include "log.h"
#include "manager.h"
#include "metrics-server.h"
#include "process-metrics.h"
#include "registration.h"
#include "watcher.h"
#include "webconfig.h"

#define RETRY_FIRST_USEC (1ULL * 1000000) /* first retry of a failed startup step */
#define RETRY_MAX_USEC (60ULL * 1000000)  /* backoff cap while waiting for IMDS or ECS */
#define RETRY_SLOW_USEC (60ULL * 1000000) /* credentials or policy problems: a human must act */
#define EXIT_TERMINAL 5                   /* do not restart (RestartPreventExitStatus=5) */

extern char **environ;

struct manager {
        sd_event *event;
        struct config *cfg; /* ours; a reload replaces it */
        const char *const *files;
        size_t n_files;
        struct hooks *hooks; /* outlives the watchers: a hook may outlive a reload */
        struct aws_clients *aws;
        bool aws_ready;
        struct registration *reg; /* kept while joined: its state is ours to read */
        bool joined;
        struct attrsync *sync;
        struct watcher *watcher; /* polls from the moment the AWS clients are ready */
        struct metrics_server *metrics;
        /* For the metrics, kept across reloads: they only grow. */
        struct watcher_stats watcher_stats;
        uint64_t attribute_syncs[_HOSTD_SYNC_MAX];
        const char *mode;    /* register or companion once joined (static) */
        char ecs_status[24]; /* the container instance's, as the join found it */
        sd_event_source *retry;
        uint64_t retry_usec;
        char phase[512];        /* what startup does or waits for */
        bool said_unconfigured; /* "Not joining a cluster" logged since the last (re)load */
};

/* STATUS=: the watcher's line while it has one, else the phase.  Both hold
 * names from outside (cluster, ARN, IMDS's times): a newline in them must
 * not add a field such as WATCHDOG_USEC= to the message. */
static void update_status(void *userdata) {
        struct manager *m = userdata;
        const char *w = watcher_status(m->watcher);
        char line[sizeof m->phase * 4];

        sd_notifyf(false, "STATUS=%s", escape_controls(line, sizeof line, w ? w : m->phase));
}

static void set_phase(struct manager *m, const char *fmt, ...) _printf_(2, 3);
static void set_phase(struct manager *m, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(m->phase, sizeof m->phase, fmt, ap);
        va_end(ap);
        update_status(m);
}

static void advance(struct manager *m);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        (void)s, (void)usec;
        m->retry = sd_event_source_disable_unref(m->retry);
        advance(m);
        return 0;
}

/* Try the step that failed again later: after `usec`, or with a backoff
 * doubling from RETRY_FIRST_USEC to RETRY_MAX_USEC when usec is 0. */
static void schedule_retry(struct manager *m, uint64_t usec) {
        int r;

        m->retry_usec = m->retry_usec ? m->retry_usec * 2 : RETRY_FIRST_USEC;
        if (m->retry_usec > RETRY_MAX_USEC)
                m->retry_usec = RETRY_MAX_USEC;
        m->retry = sd_event_source_disable_unref(m->retry);
        r = sd_event_add_time_relative(m->event, &m->retry, CLOCK_MONOTONIC,
                                       usec ? usec : m->retry_usec, TIMER_ACCURACY_USEC, on_retry,
                                       m);
        if (r < 0) {
                log_crit_errno(r, "Failed to schedule a retry: %m");
                sd_event_exit(m->event, EXIT_FAILURE);
        }
}

static void on_synced(int error, const char *message, void *userdata) {
        struct manager *m = userdata;

        m->attribute_syncs[error < 0 ? HOSTD_SYNC_FAILURE : HOSTD_SYNC_SUCCESS]++;
        if (error < 0)
                log_warn("Attribute sync: %s", message);
        else
                log_info("Attribute sync: %s", message);
}

/* Next to the official agent, the agent registers PORTS: a bridge-mode task
 * could be placed on the metrics port unless ECS_RESERVED_PORTS holds it. */
static void check_reserved_ports(const struct config *cfg) {
        uint16_t listen[CONFIG_LISTEN_MAX];
        size_t n = config_listen_ports(cfg, KEY_ECS_HOSTD_METRICS_LISTEN, listen), n_reserved = 0;
        _cleanup_free_ uint16_t *reserved = NULL;

        if (n == 0 || config_ports(cfg, KEY_ECS_RESERVED_PORTS, &reserved, &n_reserved) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                bool have = false;
                for (size_t j = 0; j < n_reserved && !have; j++)
                        have = reserved[j] == listen[i];
                if (!have)
                        log_warn("ECS_RESERVED_PORTS does not hold %u, the metrics endpoint's "
                                 "port: add it in /etc/ecs/ecs.config, or a bridge-mode task "
                                 "mapping that host port will fail to start on this instance",
                                 (unsigned)listen[i]);
        }
}

static void joined(struct manager *m, const struct registration_result *res) {
        int r;

        m->joined = true;
        m->retry_usec = 0;
        m->mode = res->mode;
        snprintf(m->ecs_status, sizeof m->ecs_status, "%s", res->status ? res->status : "");
        if (streq_ptr(res->mode, "companion"))
                check_reserved_ports(m->cfg);
        set_phase(m, "Joined ECS cluster %s as %s (%s mode%s)", res->cluster, res->arn, res->mode,
                  res->reused ? ", saved identity" : "");
        log_info("%s", m->phase);
        if (m->watcher) {
                r = watcher_set_target(m->watcher, res->cluster, res->arn);
                if (r < 0)
                        log_error_errno(r, "Failed to tell the watcher the container instance: %m");
        }
        m->sync = attrsync_free(m->sync);
        r = attrsync_new(&m->sync, m->aws, m->cfg, registration_state(m->reg), on_synced, m);
        if (r < 0)
                log_error_errno(r, "Failed to start the attribute sync: %m");
        else
                attrsync_request(m->sync);
}

static void on_registration(const struct registration_result *res, void *userdata) {
        struct manager *m = userdata;
        const char *cluster = config_string(m->cfg, KEY_ECS_CLUSTER);

        switch (res->outcome) {
        case REGISTRATION_DONE:
                joined(m, res);
                return;
        case REGISTRATION_RETRY:
                log_warn("Cannot join the cluster yet: %s; retrying", res->message);
                set_phase(m, "Waiting to join ECS cluster %s: %s", cluster, res->message);
                schedule_retry(m, 0);
                return;
        case REGISTRATION_RETRY_SLOW:
                log_error("Cannot join the cluster: %s; retrying in %llu s", res->message,
                          (unsigned long long)(RETRY_SLOW_USEC / 1000000));
                set_phase(m, "Cannot join ECS cluster %s: %s", cluster, res->message);
                schedule_retry(m, RETRY_SLOW_USEC);
                return;
        case REGISTRATION_UNCONFIGURED:
                /* Logged once, not at every look for the official agent. */
                if (!m->said_unconfigured)
                        log_warn("Not joining a cluster: %s", res->message);
                m->said_unconfigured = true;
                set_phase(m, "Waiting for a cluster: %s", res->message);
                schedule_retry(m, RETRY_SLOW_USEC);
                return;
        case REGISTRATION_TERMINAL:
                log_crit("%s", res->message);
                set_phase(m, "Stopped: %s", res->message);
                sd_event_exit(m->event, EXIT_TERMINAL);
                return;
        }
}

static void on_aws_ready(struct aws_clients *a, int error, const char *text, void *userdata) {
        struct manager *m = userdata;
        int r;

        if (error < 0) {
                /* -EINVAL: IMDS answered, with something unusable (a bad
                 * document or region): not a passing failure, say it louder. */
                log_full_errno(error == -EINVAL ? LOG_ERR : LOG_WARNING, 0, "%s; retrying", text);
                set_phase(m, "Waiting for IMDS: %s", text);
                schedule_retry(m, 0);
                return;
        }
        m->aws_ready = true;
        m->retry_usec = 0;
        if (!m->watcher) {
                /* Watch at once: a notice that comes before the join is
                 * remembered and drained as soon as the instance is known. */
                r = watcher_new(&m->watcher, a, m->cfg, m->hooks, &m->watcher_stats, update_status,
                                m);
                if (r < 0)
                        log_error_errno(r, "Failed to start the interruption watcher: %m");
        }
        if (a->have_identity)
                log_info("EC2 instance %s (%s) in %s, account %s", a->identity.instance_id,
                         a->identity.instance_type ?: "?", a->identity.availability_zone ?: "?",
                         a->identity.account_id ?: "?");
        log_info("Region %s (from %s), ECS endpoint %s, credentials from %s", a->region,
                 aws_clients_region_source(a), ecs_endpoint(a->ecs), credentials_source(a->creds));
        advance(m);
}

static void join(struct manager *m) {
        int r;

        if (!m->aws->have_identity) {
                log_error("Joining a cluster needs the instance identity document from IMDS; "
                          "retrying");
                set_phase(m, "Waiting for the instance identity document");
                m->aws_ready = false;
                schedule_retry(m, 0);
                return;
        }
        set_phase(m, "Joining ECS cluster %s in %s", config_string(m->cfg, KEY_ECS_CLUSTER),
                  m->aws->region);
        m->reg = registration_free(m->reg);
        r = registration_start(&m->reg, m->aws, m->cfg, on_registration, m);
        if (r < 0) {
                log_error_errno(r, "Failed to start joining the cluster: %m");
                schedule_retry(m, 0);
        }
}

/* ---- what the metrics endpoint reads ------------------------------------ */

static void daemon_metrics(struct expo *e, void *userdata) {
        struct manager *m = userdata;
        const struct state *st = m->joined ? registration_state(m->reg) : NULL;
        struct watcher_state ws;
        const char *status =
                m->watcher ? (watcher_get_state(m->watcher, &ws), ws.ecs_status) : NULL;
        struct hostd_view v = {
                .mode = m->mode ?: config_string(m->cfg, KEY_ECS_HOSTD_MODE),
                .cluster = st ? st->cluster : NULL,
                .arn = st ? st->container_instance_arn : NULL,
                .ec2_instance_id =
                        m->aws && m->aws->have_identity ? m->aws->identity.instance_id : NULL,
                .ecs_status = status ?: (m->ecs_status[0] ? m->ecs_status : NULL),
                .watcher = m->watcher ? &ws : NULL,
                .watcher_stats = &m->watcher_stats,
                .imds = imds_stats(),
                .ecs = ecs_stats(),
                .credentials = credentials_stats(),
        };

        memcpy(v.attribute_syncs, m->attribute_syncs, sizeof v.attribute_syncs);
        hostd_metrics_write(e, &v);
        process_metrics_write(e);
}

static void identity(const char **cluster, const char **arn, void *userdata) {
        struct manager *m = userdata;
        const struct state *st = m->joined ? registration_state(m->reg) : NULL;

        *cluster = st ? st->cluster : config_string(m->cfg, KEY_ECS_CLUSTER);
        *arn = st ? st->container_instance_arn : NULL;
}

/* /healthz: the loop answers (or this would not run), IMDS is heard and the
 * container instance is known. */
static const char *unhealthy(void *userdata) {
        struct manager *m = userdata;
        struct watcher_state ws;

        if (!m->watcher)
                return "IMDS has not answered yet";
        watcher_get_state(m->watcher, &ws);
        if (ws.blind)
                return "IMDS has not answered the last polls: notices may be missed";
        if (!m->joined)
                return m->phase; /* what joining waits for */
        return NULL;
}

static const struct metrics_server_ops metrics_ops = {
        .daemon_metrics = daemon_metrics,
        .identity = identity,
        .unhealthy = unhealthy,
};

/* Do the next thing startup needs: the AWS clients, then joining the cluster. */
static void advance(struct manager *m) {
        int r;

        if (!m->aws_ready) {
                r = aws_clients_start(m->aws, on_aws_ready, m);
                if (r < 0) {
                        log_error_errno(r, "Failed to read the instance identity: %m");
                        schedule_retry(m, 0);
                }
                return;
        }
        if (!m->joined)
                join(m);
}

/* Drop everything built from the configuration (the hooks stay). */
static void teardown(struct manager *m) {
        m->metrics = metrics_server_free(m->metrics);
        m->sync = attrsync_free(m->sync);
        m->watcher = watcher_free(m->watcher);
        m->reg = registration_free(m->reg);
        m->joined = m->aws_ready = false;
        m->mode = NULL;
        m->ecs_status[0] = 0;
        m->retry = sd_event_source_disable_unref(m->retry);
        m->retry_usec = 0;
        m->said_unconfigured = false;
        m->aws = aws_clients_free(m->aws);
}

/* (Re)build the AWS clients from the current configuration and start. */
static int setup(struct manager *m) {
        const char *datadir = config_string(m->cfg, KEY_ECS_HOSTD_DATADIR);
        int r;

        teardown(m);
        r = fileio_probe_dir(datadir);
        if (r < 0)
                log_error_errno(r,
                                "Cannot write the data directory %s: %m; the container "
                                "instance and the notices handled will not be remembered "
                                "across restarts",
                                datadir);
        r = aws_clients_new(&m->aws, m->event, m->cfg);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the AWS clients: %m");
        /* Without its endpoint the daemon still drains: that is its job. */
        r = metrics_server_new(&m->metrics, m->event, m->cfg, &metrics_ops, m);
        if (r < 0)
                log_error_errno(r, "The metrics endpoint is off: %m");
        set_phase(m, "Reading the instance identity document");
        advance(m);
        return 0;
}

/* The data directory holds the identity the daemon drains and the notices
 * it handled: one others can write is refused as a configuration error. */
static int check_datadir(const struct config *c, struct errors *errs) {
        _cleanup_free_ char *why = NULL;
        const char *dir = config_string(c, KEY_ECS_HOSTD_DATADIR);
        unsigned line;
        const char *file = config_origin(c, KEY_ECS_HOSTD_DATADIR, &line);

        if (fileio_check_private_dir(dir, &why) == 0)
                return 0;
        return errors_add(errs, file, line, "ECS_HOSTD_DATADIR: %s: %s", dir,
                          why ? why : "cannot check it");
}

/* The metrics endpoint's TLS and basic auth: a broken file refuses the
 * whole configuration, so a reload keeps serving what it served; the
 * endpoint reads it again when it is (re)built. */
static int check_web_config(const struct config *c, struct errors *errs) {
        _cleanup_(webconfig_freep) struct webconfig *w = NULL;
        const char *path = config_string(c, KEY_ECS_HOSTD_METRICS_WEB_CONFIG);

        return path ? webconfig_load(&w, path, errs) : 0;
}

int manager_load_config(const char *const *files, size_t n_files, struct config **ret,
                        struct errors *errs) {
        _cleanup_(config_freep) struct config *c = NULL;
        int r;

        r = config_load_files(&c, files, n_files, environ, errs);
        if (r >= 0)
                r = attrsync_check_config(c, errs);
        if (r >= 0)
                r = check_datadir(c, errs);
        if (r >= 0)
                r = check_web_config(c, errs);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;
        _cleanup_(config_freep) struct config *old = NULL;
        struct errors errs = {};
        struct config *n = NULL;
        int r;

        (void)s, (void)si;
        sd_notify(false, "RELOADING=1");
        r = manager_load_config(m->files, m->n_files, &n, &errs);
        log_errors(LOG_ERR, &errs);
        errors_done(&errs);
        if (r < 0) {
                log_error_errno(r, "Reloading the configuration failed; keeping the previous one");
                sd_notify(false, "READY=1");
                update_status(m);
                return 0;
        }
        /* The old configuration lives until setup() has freed its borrowers. */
        old = TAKE_PTR(m->cfg);
        m->cfg = n;
        log_errors(LOG_WARNING, config_warnings(m->cfg));
        log_set_max_level(config_enum(m->cfg, KEY_ECS_LOGLEVEL));
        log_info("Configuration reloaded");
        (void)setup(m);
        sd_notify(false, "READY=1");
        return 0;
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;

        (void)s;
        log_info("Received %s, stopping", strsignal((int)si->ssi_signo));
        sd_notify(false, "STOPPING=1");
        sd_event_exit(m->event, EXIT_SUCCESS);
        return 0;
}

static int setup_loop(struct manager *m) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD); /* the drain hook is watched with sd_event_add_child */
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_crit_errno(errno, "Failed to block signals: %m");
        /* A peer that closes its end (a hook's pipe, a socket) is an error to
         * handle where it happens, never a reason to die. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return log_crit_errno(errno, "Failed to ignore SIGPIPE: %m");
        r = sd_event_default(&m->event);
        if (r < 0)
                return log_crit_errno(r, "Failed to create the event loop: %m");
        if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_stop, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGINT, on_stop, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_reload, m)) < 0)
                return log_crit_errno(r, "Failed to watch signals: %m");
        /* WATCHDOG=1 at half of WATCHDOG_USEC, when systemd asks for it. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warn_errno(r, "Failed to enable the watchdog: %m");
        r = hooks_new(&m->hooks, m->event);
        if (r < 0)
                return log_crit_errno(r, "Failed to set up the hook runner: %m");
        return 0;
}

int manager_new(struct manager **ret, struct config *cfg, const char *const *config_files,
                size_t n_config_files) {
        _cleanup_(manager_freep) struct manager *m = calloc(1, sizeof *m);
        int r;

        if (!m) {
                config_free(cfg);
                return -ENOMEM;
        }
        m->cfg = cfg;
        m->watcher_stats.last_drain_seconds = -1; /* none yet */
        m->watcher_stats.last_time_to_empty_seconds = -1;
        m->files = config_files;
        m->n_files = n_config_files;
        r = setup_loop(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        teardown(m);
        hooks_free(m->hooks);
        config_free(m->cfg);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

int manager_run(struct manager *m) {
        int r;

        log_info("ecs-hostd %s (%s) starting", HOSTD_VERSION, HOSTD_GIT_HASH);
        log_errors(LOG_WARNING, config_warnings(m->cfg));
        if (setup(m) < 0)
                return EXIT_FAILURE;
        sd_notify(false, "READY=1");
        r = sd_event_loop(m->event);
        return r < 0 ? EXIT_FAILURE : r;
}
