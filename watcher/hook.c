/* hook.c: the drain hook runner (see hook.h).  Each run holds three event
 * sources -- its output pipe, its exit (sd_event_add_child) and its time
 * limit -- and frees itself once the child is reaped. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event-util.h"
#include "hook.h"
#include "log.h"
#include "macro.h"

extern char **environ;

struct hook {
        struct hooks *owner;
        pid_t pid;
        sd_event_source *child, *out, *timer;
        int fd;
        char buf[HOOK_OUTPUT_MAX];
        size_t len;
        char *id;
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
        sd_event_source_disable_unref(h->timer);
        if (h->fd >= 0)
                close(h->fd);
        free(h->id);
        free(h);
}

/* Log every complete line, or everything when all (an over-long line, or
 * the end of the output). */
static void flush(struct hook *h, bool all) {
        char *nl;

        while ((nl = memchr(h->buf, '\n', h->len)) || (all && h->len)) {
                size_t n = nl ? (size_t)(nl - h->buf) : h->len;
                log_info("Drain hook [%d] for %s: %.*s", (int)h->pid, h->id, (int)n, h->buf);
                n = nl ? n + 1 : n;
                memmove(h->buf, h->buf + n, h->len - n);
                h->len -= n;
        }
}

/* Read once: 1 when output came, 0 when none is there now, -1 at its end
 * (the source is then gone). */
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
        flush(h, true);
        h->out = sd_event_source_disable_unref(h->out);
        return -1;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void)s, (void)fd, (void)revents;
        (void)read_output(userdata);
        return 0;
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        struct hook *h = userdata;

        (void)s;
        /* Log what the pipe holds before reporting; never wait for more (a
         * process the hook left behind may keep the pipe open). */
        while (h->out && read_output(h) > 0)
                ;
        flush(h, true);
        if (si->si_code == CLD_EXITED && si->si_status == 0)
                log_info("Drain hook for %s finished", h->id);
        else if (si->si_code == CLD_EXITED)
                log_warn("Drain hook for %s failed with exit status %d", h->id, si->si_status);
        else
                log_warn("Drain hook for %s was killed by signal %d%s", h->id, si->si_status,
                         h->timer ? "" : " (time limit)");
        hook_free(h);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct hook *h = userdata;

        (void)s, (void)usec;
        log_warn("Drain hook for %s exceeded its time limit; killing it", h->id);
        h->timer = sd_event_source_disable_unref(h->timer);
        kill(-h->pid, SIGKILL); /* its whole process group */
        return 0;
}

/* The daemon's environment with env's names replaced by env's entries. */
static char **make_env(const char *const *env) {
        size_t n = 0, k = 0, extra = 0;
        char **v;

        while (environ[n])
                n++;
        while (env[extra])
                extra++;
        v = calloc(n + extra + 1, sizeof *v);
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                bool replaced = false;
                for (size_t j = 0; j < extra && !replaced; j++) {
                        size_t len = strcspn(env[j], "=") + 1;
                        replaced = strncmp(environ[i], env[j], len) == 0;
                }
                if (!replaced)
                        v[k++] = environ[i];
        }
        for (size_t j = 0; j < extra; j++)
                v[k++] = (char *)(uintptr_t)env[j];
        return v;
}

/* In the child: only async-signal-safe calls, then exec. */
_noreturn_ static void child(const char *path, char **envp, int out) {
        char *argv[] = {(char *)(uintptr_t)path, NULL};
        sigset_t none;
        int devnull;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
                dup2(devnull, STDIN_FILENO);
        execve(path, argv, envp);
        dprintf(STDERR_FILENO, "cannot execute %s: %s\n", path, strerror(errno));
        _exit(127);
}

static int watch(struct hooks *hs, struct hook *h, uint64_t timeout_usec) {
        int r;

        r = sd_event_add_io(hs->event, &h->out, h->fd, EPOLLIN, on_output, h);
        if (r >= 0)
                r = sd_event_add_child(hs->event, &h->child, h->pid, WEXITED, on_child_exit, h);
        if (r >= 0)
                r = sd_event_add_time_relative(hs->event, &h->timer, CLOCK_MONOTONIC, timeout_usec,
                                               TIMER_ACCURACY_USEC, on_timeout, h);
        return r;
}

int hooks_run(struct hooks *hs, const char *path, const char *id, const char *const *env,
              uint64_t timeout_usec) {
        _cleanup_free_ char **envp = make_env(env);
        struct hook *h;
        int pipefd[2], r;
        pid_t pid;

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
        h->owner = hs;
        h->fd = pipefd[0];
        h->pid = pid;
        h->next = hs->running;
        hs->running = h;
        if (pid < 0) {
                r = -errno;
                hook_free(h);
                return r;
        }
        (void)fcntl(h->fd, F_SETFL, O_NONBLOCK);
        r = watch(hs, h, timeout_usec);
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
