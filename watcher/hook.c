/* hook.c: the drain hook runner (see hook.h).  Each run holds its output
 * pipe, its exit (sd_event_add_child) and its time limit as event sources,
 * and frees itself once its main process is reaped and its output closed.
 * Nothing here blocks, waits or loops on the hook: output is read as it
 * comes, and after the main process exits it is followed for
 * HOOK_FOLLOW_USEC only (a child it left in the background may keep the
 * pipe open for ever; such a child is the hook's business). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"
#include "event-util.h"
#include "fileio.h"
#include "hook.h"
#include "log.h"
#include "macro.h"

extern char **environ;

#define HOOK_FOLLOW_USEC (1ULL * 1000000)     /* output read after the main process exits */
#define HOOK_KILL_GRACE_USEC (5ULL * 1000000) /* SIGTERM at the limit, SIGKILL this later */
#define HOOK_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What the hook gets from the daemon's environment: nothing that holds a
 * key, a token, a socket or the daemon's configuration. */
static const char *const env_allowed[] = {"PATH", "LANG", "TZ"};

struct hook {
        struct hooks *owner;
        pid_t pid; /* the main process, and the process group */
        sd_event_source *child, *out, *limit, *follow;
        int fd;
        bool exited;  /* the main process was reaped */
        bool killing; /* the time limit passed: SIGTERM sent, SIGKILL next */
        char buf[HOOK_OUTPUT_MAX];
        size_t len;
        char *id;
        const char *label; /* "Drain hook", "Empty hook": static */
        uint64_t timeout_usec;
        struct hook *next;
};

struct hooks {
        sd_event *event;
        struct hook *running;
};

static void hook_free(struct hook *h) {
        struct hook **p = &h->owner->running;

        while (*p && *p != h)
                p = &(*p)->next;
        if (*p)
                *p = h->next;
        sd_event_source_disable_unref(h->child);
        sd_event_source_disable_unref(h->out);
        sd_event_source_disable_unref(h->limit);
        sd_event_source_disable_unref(h->follow);
        if (h->fd >= 0)
                close(h->fd);
        free(h->id);
        free(h);
}

/* Done once the main process is reaped and its output closed. */
static void maybe_done(struct hook *h) {
        if (h->exited && !h->out)
                hook_free(h);
}

/* Log every complete line, or everything when all (an over-long line, or
 * the end of the output). */
static void flush(struct hook *h, bool all) {
        char *nl;

        while ((nl = memchr(h->buf, '\n', h->len)) || (all && h->len)) {
                size_t n = nl ? (size_t)(nl - h->buf) : h->len;
                log_info("%s [%d] for %s: %.*s", h->label, (int)h->pid, h->id, (int)n, h->buf);
                n = nl ? n + 1 : n;
                memmove(h->buf, h->buf + n, h->len - n);
                h->len -= n;
        }
}

static void stop_output(struct hook *h) {
        flush(h, true);
        h->out = sd_event_source_disable_unref(h->out);
        h->follow = sd_event_source_disable_unref(h->follow);
        if (h->fd >= 0)
                close(h->fd);
        h->fd = -EBADF;
}

/* Read once: 1 when output came, 0 when none is there now, -1 at its end
 * (the output is then closed). */
static int read_output(struct hook *h) {
        ssize_t n;

        if (h->len == sizeof h->buf)
                flush(h, true); /* an over-long line: log it in pieces */
        n = read(h->fd, h->buf + h->len, sizeof h->buf - h->len);
        if (n > 0) {
                h->len += (size_t)n;
                flush(h, false);
                return 1;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        stop_output(h);
        return -1;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct hook *h = userdata;

        (void)s, (void)fd, (void)revents;
        if (read_output(h) < 0)
                maybe_done(h);
        return 0;
}

static int on_follow_end(sd_event_source *s, uint64_t usec, void *userdata) {
        struct hook *h = userdata;

        (void)s, (void)usec;
        stop_output(h);
        maybe_done(h);
        return 0;
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        struct hook *h = userdata;

        (void)s;
        h->exited = true;
        h->child = sd_event_source_disable_unref(h->child);
        h->limit = sd_event_source_disable_unref(h->limit);
        while (h->out && read_output(h) > 0)
                ;
        if (si->si_code == CLD_EXITED && si->si_status == 0)
                log_info("%s for %s finished", h->label, h->id);
        else if (si->si_code == CLD_EXITED)
                log_warn("%s for %s failed with exit status %d", h->label, h->id, si->si_status);
        else
                log_warn("%s for %s was killed by signal %d%s", h->label, h->id, si->si_status,
                         h->killing ? " (time limit)" : "");
        /* What a process it left behind still writes is followed a little. */
        if (h->out &&
            sd_event_add_time_relative(h->owner->event, &h->follow, CLOCK_MONOTONIC,
                                       HOOK_FOLLOW_USEC, TIMER_ACCURACY_USEC, on_follow_end, h) < 0)
                stop_output(h);
        maybe_done(h);
        return 0;
}

/* The time limit, while the main process runs: SIGTERM to the whole
 * process group, SIGKILL after a grace period (this timer, armed again). */
static int on_limit(sd_event_source *s, uint64_t usec, void *userdata) {
        struct hook *h = userdata;

        (void)s, (void)usec;
        h->limit = sd_event_source_disable_unref(h->limit);
        if (!h->killing) {
                log_warn("%s for %s exceeded its time limit; killing it (SIGTERM, then "
                         "SIGKILL after %llu s)",
                         h->label, h->id, (unsigned long long)(HOOK_KILL_GRACE_USEC / 1000000));
                h->killing = true;
                (void)kill(-h->pid, SIGTERM);
                if (sd_event_add_time_relative(h->owner->event, &h->limit, CLOCK_MONOTONIC,
                                               HOOK_KILL_GRACE_USEC, TIMER_ACCURACY_USEC, on_limit,
                                               h) >= 0)
                        return 0;
        }
        (void)kill(-h->pid, SIGKILL);
        return 0;
}

int hook_check_file(const char *path, char **why) {
        struct stat st;

        if (stat(path, &st) < 0)
                return errmsg_set(why, "cannot stat it: %s", strerror(errno));
        if (!S_ISREG(st.st_mode))
                return errmsg_set(why, "it is not a regular file");
        if (fileio_check_private(&st, "whoever can write it runs code as ecs-hostd", why) < 0)
                return -EINVAL;
        if (!(st.st_mode & S_IXUSR))
                return errmsg_set(why, "it is not executable");
        return 0;
}

/* The allowed variables of the daemon's environment, then env. */
static char **make_env(const char *const *env) {
        size_t n = 0, extra = 0;
        char **v;

        while (env[extra])
                extra++;
        v = calloc(ELEMENTSOF(env_allowed) + extra + 1, sizeof *v);
        if (!v)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(env_allowed); i++) {
                size_t len = strlen(env_allowed[i]);
                for (char **e = environ; *e; e++)
                        if (strncmp(*e, env_allowed[i], len) == 0 && (*e)[len] == '=') {
                                v[n++] = *e;
                                break;
                        }
        }
        if (n == 0 || strncmp(v[0], "PATH=", 5) != 0)
                v[n++] = (char *)"PATH=" HOOK_DEFAULT_PATH;
        for (size_t j = 0; j < extra; j++)
                v[n++] = (char *)(uintptr_t)env[j];
        return v;
}

/* In the child: only async-signal-safe calls, then exec.  Every descriptor
 * above stderr is closed: the daemon's sockets (libcurl's are not all
 * close-on-exec) and its notify socket are not the hook's. */
_noreturn_ static void child(const char *path, char **envp, int out) {
        char *argv[] = {(char *)(uintptr_t)path, NULL};
        sigset_t none;
        int devnull;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL); /* the daemon ignores it; exec would keep that */
        setpgid(0, 0);
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0 && devnull != STDIN_FILENO)
                dup2(devnull, STDIN_FILENO);
        if (close_range(3, ~0U, 0) < 0)
                for (int fd = 3; fd < 65536; fd++)
                        close(fd);
        execve(path, argv, envp);
        dprintf(STDERR_FILENO, "cannot execute %s: %s\n", path, strerror(errno));
        _exit(127);
}

static int watch(struct hooks *hs, struct hook *h) {
        int r;

        r = sd_event_add_io(hs->event, &h->out, h->fd, EPOLLIN, on_output, h);
        if (r >= 0)
                r = sd_event_add_child(hs->event, &h->child, h->pid, WEXITED, on_child_exit, h);
        if (r >= 0)
                r = sd_event_add_time_relative(hs->event, &h->limit, CLOCK_MONOTONIC,
                                               h->timeout_usec, TIMER_ACCURACY_USEC, on_limit, h);
        return r;
}

int hooks_run(struct hooks *hs, const char *label, const char *path, const char *id,
              const char *const *env, uint64_t timeout_usec) {
        _cleanup_free_ char **envp = NULL;
        _cleanup_free_ char *why = NULL;
        struct hook *h;
        int pipefd[2], r;
        pid_t pid;

        r = hook_check_file(path, &why);
        if (r < 0) {
                log_error("Refusing to run the drain hook %s for %s: %s", path, id,
                          why ? why : strerror(-r));
                return -EPERM;
        }
        envp = make_env(env);
        h = calloc(1, sizeof *h);
        if (!h || !envp || !(h->id = strdup(id))) {
                free(h);
                return -ENOMEM;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                r = -errno;
                free(h->id);
                free(h);
                return r;
        }
        pid = fork();
        if (pid == 0)
                child(path, envp, pipefd[1]);
        close(pipefd[1]);
        *h = (struct hook){.owner = hs,
                           .fd = pipefd[0],
                           .pid = pid,
                           .id = h->id,
                           .label = label,
                           .timeout_usec = timeout_usec,
                           .next = hs->running};
        hs->running = h;
        if (pid < 0) {
                r = -errno;
                hook_free(h);
                return r;
        }
        (void)fcntl(h->fd, F_SETFL, O_NONBLOCK);
        r = watch(hs, h);
        if (r < 0) {
                kill(-pid, SIGKILL);
                waitpid(pid, NULL, 0);
                hook_free(h);
                return r;
        }
        return pid;
}

int hooks_new(struct hooks **ret, sd_event *event) {
        struct hooks *h = calloc(1, sizeof *h);

        if (!h)
                return -ENOMEM;
        h->event = sd_event_ref(event);
        *ret = h;
        return 0;
}

struct hooks *hooks_free(struct hooks *hs) {
        if (!hs)
                return NULL;
        while (hs->running)
                hook_free(hs->running);
        sd_event_unref(hs->event);
        free(hs);
        return NULL;
}
