/* manager.c: the daemon's one sd-event loop.  Signals are event sources
 * (SIGTERM/SIGINT stop, SIGHUP reloads), the systemd watchdog is a timer, and
 * every AWS conversation is asynchronous on this loop.  Startup never gives
 * up on a transient failure: it retries with capped backoff and says in
 * STATUS= what it is waiting for. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "attrsync.h"
#include "aws-clients.h"
#include "log.h"
#include "manager.h"
#include "registration.h"
#include "watcher.h"

#define RETRY_FIRST_USEC (1ULL * 1000000) /* first retry of a failed startup step */
#define RETRY_MAX_USEC (60ULL * 1000000)  /* backoff cap while waiting for IMDS or ECS */
#define RETRY_SLOW_USEC (60ULL * 1000000) /* credentials or policy problems: a human must act */
#define EXIT_TERMINAL 5                   /* do not restart (RestartPreventExitStatus=5) */

extern char **environ;

struct manager {
        sd_event *event;
        struct config *cfg;       /* current configuration */
        struct config *owned_cfg; /* set after a reload: ours to free */
        const char *const *files;
        size_t n_files;
        struct aws_clients *aws;
        bool aws_ready;
        struct registration *reg; /* kept while joined: its state is ours to read */
        bool joined;
        struct attrsync *sync;
        struct watcher *watcher; /* polls from the moment the AWS clients are ready */
        sd_event_source *retry;
        uint64_t retry_usec;
        char status[512];
};

static void set_status(struct manager *m, const char *fmt, ...) _printf_(2, 3);
static void set_status(struct manager *m, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(m->status, sizeof m->status, fmt, ap);
        va_end(ap);
        sd_notifyf(false, "STATUS=%s", m->status);
}

void manager_log_config_errors(const struct config_errors *errs) {
        for (size_t i = 0; i < errs->n; i++) {
                if (errs->v[i].line > 0)
                        log_error("%s:%u: %s", errs->v[i].file, errs->v[i].line,
                                  errs->v[i].message);
                else
                        log_error("%s: %s", errs->v[i].file, errs->v[i].message);
        }
}

static void log_config_warnings(const struct config *c) {
        const struct config_errors *w = config_warnings(c);
        for (size_t i = 0; w && i < w->n; i++)
                log_warn("%s:%u: %s", w->v[i].file, w->v[i].line, w->v[i].message);
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
        (void)userdata;
        if (error < 0)
                log_warn("Attribute sync: %s", message);
        else
                log_info("Attribute sync: %s", message);
}

static void on_registration(const struct registration_result *res, void *userdata) {
        struct manager *m = userdata;
        int r;

        switch (res->outcome) {
        case REGISTRATION_DONE:
                m->joined = true;
                m->retry_usec = 0;
                set_status(m, "Joined ECS cluster %s as %s (%s mode%s)", res->cluster, res->arn,
                           res->mode, res->reused ? ", saved identity" : "");
                log_info("%s", m->status);
                if (m->watcher)
                        watcher_set_target(m->watcher, res->cluster, res->arn);
                m->sync = attrsync_free(m->sync);
                r = attrsync_new(&m->sync, m->aws, m->cfg, registration_state(m->reg), on_synced,
                                 m);
                if (r < 0)
                        log_error_errno(r, "Failed to start the attribute sync: %m");
                else
                        attrsync_request(m->sync);
                return;
        case REGISTRATION_RETRY:
                log_warn("Cannot join the cluster yet: %s; retrying", res->message);
                set_status(m, "Waiting to join ECS cluster %s: %s",
                           config_get(m->cfg, "ECS_CLUSTER"), res->message);
                schedule_retry(m, 0);
                return;
        case REGISTRATION_RETRY_SLOW:
                log_error("Cannot join the cluster: %s; retrying in %llu s", res->message,
                          (unsigned long long)(RETRY_SLOW_USEC / 1000000));
                set_status(m, "Cannot join ECS cluster %s: %s", config_get(m->cfg, "ECS_CLUSTER"),
                           res->message);
                schedule_retry(m, RETRY_SLOW_USEC);
                return;
        case REGISTRATION_TERMINAL:
                log_crit("%s", res->message);
                set_status(m, "Stopped: %s", res->message);
                sd_event_exit(m->event, EXIT_TERMINAL);
                return;
        }
}

static void on_aws_ready(struct aws_clients *a, int error, const char *text, void *userdata) {
        struct manager *m = userdata;

        if (error < 0) {
                log_warn("%s; retrying", text);
                set_status(m, "Waiting for IMDS: %s", text);
                schedule_retry(m, 0);
                return;
        }
        m->aws_ready = true;
        m->retry_usec = 0;
        if (!m->watcher) {
                /* Watch at once: a notice that comes before the join is
                 * remembered and drained as soon as the instance is known. */
                int r = watcher_new(&m->watcher, a, m->cfg);
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
        if (!m->joined) {
                if (!m->aws->have_identity) {
                        log_error("Joining a cluster needs the instance identity document from "
                                  "IMDS; retrying");
                        set_status(m, "Waiting for the instance identity document");
                        m->aws_ready = false;
                        schedule_retry(m, 0);
                        return;
                }
                set_status(m, "Joining ECS cluster %s in %s", config_get(m->cfg, "ECS_CLUSTER"),
                           m->aws->region);
                m->reg = registration_free(m->reg);
                r = registration_start(&m->reg, m->aws, m->cfg, on_registration, m);
                if (r < 0) {
                        log_error_errno(r, "Failed to start joining the cluster: %m");
                        schedule_retry(m, 0);
                }
        }
}

/* (Re)build the AWS clients from the current configuration and start. */
static int setup_aws(struct manager *m) {
        int r;

        m->sync = attrsync_free(m->sync);
        m->watcher = watcher_free(m->watcher);
        m->reg = registration_free(m->reg);
        m->joined = m->aws_ready = false;
        m->retry = sd_event_source_disable_unref(m->retry);
        m->retry_usec = 0;
        m->aws = aws_clients_free(m->aws);
        r = aws_clients_new(&m->aws, m->event, m->cfg);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the AWS clients: %m");
        set_status(m, "Reading the instance identity document");
        advance(m);
        return 0;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;
        struct config_errors errs = {};
        struct config *n = NULL;
        int r, level;

        (void)s, (void)si;
        sd_notify(false, "RELOADING=1");
        r = config_load_files(&n, m->files, m->n_files, environ, &errs);
        if (r >= 0 && attrsync_check_config(n, &errs) < 0) {
                n = config_free(n);
                r = -EINVAL;
        }
        if (r < 0) {
                manager_log_config_errors(&errs);
                log_error_errno(r, "Reloading the configuration failed; keeping the previous one");
                config_errors_done(&errs);
                sd_notifyf(false, "READY=1\nSTATUS=%s", m->status);
                return 0;
        }
        config_free(m->owned_cfg);
        m->cfg = m->owned_cfg = n;
        log_config_warnings(m->cfg);
        level = log_level_from_string(config_get(m->cfg, "ECS_LOGLEVEL"));
        if (level >= 0)
                log_set_max_level(level);
        log_info("Configuration reloaded");
        setup_aws(m);
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

int manager_run(struct config *cfg, const char *const *config_files, size_t n_config_files) {
        struct manager m = {.cfg = cfg, .files = config_files, .n_files = n_config_files};
        sigset_t mask;
        int r, status = EXIT_FAILURE;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD); /* the drain hook is watched with sd_event_add_child */
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_crit_errno(errno, "Failed to block signals: %m"), EXIT_FAILURE;

        r = sd_event_default(&m.event);
        if (r < 0)
                return log_crit_errno(r, "Failed to create the event loop: %m"), EXIT_FAILURE;
        if ((r = sd_event_add_signal(m.event, NULL, SIGTERM, on_stop, &m)) < 0 ||
            (r = sd_event_add_signal(m.event, NULL, SIGINT, on_stop, &m)) < 0 ||
            (r = sd_event_add_signal(m.event, NULL, SIGHUP, on_reload, &m)) < 0) {
                log_crit_errno(r, "Failed to watch signals: %m");
                goto out;
        }
        /* WATCHDOG=1 at half of WATCHDOG_USEC, when systemd asks for it. */
        r = sd_event_set_watchdog(m.event, true);
        if (r < 0)
                log_warn_errno(r, "Failed to enable the watchdog: %m");

        log_info("ecs-hostd %s (%s) starting", HOSTD_VERSION, HOSTD_GIT_HASH);
        log_config_warnings(m.cfg);
        if (setup_aws(&m) < 0)
                goto out;
        sd_notify(false, "READY=1");

        r = sd_event_loop(m.event);
        status = r < 0 ? EXIT_FAILURE : r;
out:
        attrsync_free(m.sync);
        watcher_free(m.watcher);
        registration_free(m.reg);
        sd_event_source_disable_unref(m.retry);
        aws_clients_free(m.aws);
        config_free(m.owned_cfg);
        sd_event_unref(m.event);
        return status;
}
