/* test-hook.c: the drain hook runner on a real sd-event loop with real
 * scripts.  A hook gets only PATH, LANG, TZ and its event (never the keys,
 * NOTIFY_SOCKET or the configuration) and none of the daemon's descriptors;
 * an unsafe hook file is refused; a hook that leaves a child in the
 * background never stalls the loop; at the time limit its process group
 * gets SIGTERM, then SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event-util.h"
#include "hook.h"
#include "log.h"
#include "macro.h"
#include "test.h"

static char dir[] = "/tmp/test-hook-XXXXXX";
static int log_fd = -1;
static sd_event *event;
static struct hooks *hooks;

static char *in_dir(const char *name) {
        char *p;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                abort();
        return p;
}

/* A hook script named name with body (after #!/bin/sh), mode 0755. */
static char *script(const char *name, const char *body) {
        char *path = in_dir(name);
        FILE *f = fopen(path, "w");

        if (!f)
                abort();
        fprintf(f, "#!/bin/sh\n%s\n", body);
        fclose(f);
        if (chmod(path, 0755) < 0)
                abort();
        return path;
}

static char *read_text(const char *path) {
        char *text = calloc(1, 65536);
        int fd = open(path, O_RDONLY);

        if (!text)
                abort();
        if (fd >= 0) {
                if (read(fd, text, 65535) < 0)
                        text[0] = 0;
                close(fd);
        }
        return text;
}

static bool log_has(const char *needle) {
        _cleanup_free_ char *text = calloc(1, 1 << 20);
        ssize_t n = text ? pread(log_fd, text, (1 << 20) - 1, 0) : -1;

        return n > 0 && strstr(text, needle);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        (*(unsigned *)userdata)++;
        (void)sd_event_source_set_time(s, usec + 50000);
        return 0;
}

/* Run the loop until the log holds needle or timeout_ms passed; returns
 * whether it came.  A 50 ms ticker counts how often the loop got round. */
static bool run_until(const char *needle, unsigned timeout_ms, unsigned *ticks) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *tick = NULL;
        uint64_t end = event_now_usec(event) + (uint64_t)timeout_ms * 1000;
        unsigned dummy = 0;

        if (sd_event_add_time_relative(event, &tick, CLOCK_MONOTONIC, 50000, 1000, on_tick,
                                       ticks ? ticks : &dummy) < 0 ||
            sd_event_source_set_enabled(tick, SD_EVENT_ON) < 0)
                abort();
        while ((!needle || !log_has(needle)) && event_now_usec(event) < end)
                if (sd_event_run(event, 20000) < 0)
                        abort();
        return !needle || log_has(needle);
}

static void test_environment(void) {
        _cleanup_free_ char *out = in_dir("env.out"), *body = NULL, *hook = NULL, *env = NULL;
        const char *const ev[] = {"ECS_HOSTD_EVENT_ID=spot/terminate/x", NULL};

        setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
        setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
        setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEXAMPLE", 1);
        setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
        setenv("ECS_CLUSTER", "prod", 1);
        setenv("LANG", "C.UTF-8", 1);
        setenv("TZ", "UTC", 1);
        if (asprintf(&body, "env > %s", out) < 0)
                abort();
        hook = script("env.sh", body);
        CHECK("env hook runs", hooks_run(hooks, "Drain hook", hook, "env", ev, 10000000) > 0);
        CHECK("env hook finishes", run_until("Drain hook for env finished", 5000, NULL));
        env = read_text(out);
        CHECK("the hook gets its event", strstr(env, "ECS_HOSTD_EVENT_ID=spot/terminate/x\n"));
        CHECK("the hook gets PATH, LANG and TZ",
              strstr(env, "PATH=") && strstr(env, "LANG=C.UTF-8\n") && strstr(env, "TZ=UTC\n"));
        CHECK("no AWS key, secret or session token reaches the hook",
              !strstr(env, "AWS_") && !strstr(env, "EXAMPLE"));
        CHECK("nor NOTIFY_SOCKET", !strstr(env, "NOTIFY_SOCKET"));
        CHECK("nor the daemon's configuration", !strstr(env, "ECS_CLUSTER"));
}

static void test_descriptors(void) {
        _cleanup_free_ char *out = in_dir("fd.out"), *body = NULL, *hook = NULL, *text = NULL;
        int fd = open("/dev/null", O_RDONLY); /* not close-on-exec, like curl's sockets */

        if (fd < 0 || dup2(fd, 40) < 0)
                abort();
        close(fd);
        if (asprintf(&body, "if [ -e /proc/$$/fd/40 ]; then echo open; else echo closed; fi > %s",
                     out) < 0)
                abort();
        hook = script("fd.sh", body);
        CHECK("fd hook runs", hooks_run(hooks, "Drain hook", hook, "fd",
                                        (const char *const[]){NULL}, 10000000) > 0);
        run_until("Drain hook for fd finished", 5000, NULL);
        text = read_text(out);
        CHECK_STREQ("no descriptor of the daemon's is open in the hook", text, "closed\n");
        close(40);
}

static void test_refused(void) {
        _cleanup_free_ char *hook = script("writable.sh", "exit 0");

        if (chmod(hook, 0777) < 0)
                abort();
        CHECK_INTEQ("a hook anyone can write is refused",
                    hooks_run(hooks, "Drain hook", hook, "w", (const char *const[]){NULL}, 1000000),
                    -EPERM);
        CHECK("... saying why", log_has("Refusing to run the drain hook") &&
                                        log_has("writable by everyone (mode 0777)"));
        if (chmod(hook, 0775) < 0)
                abort();
        CHECK_INTEQ("so is one its group can write",
                    hooks_run(hooks, "Drain hook", hook, "g", (const char *const[]){NULL}, 1000000),
                    -EPERM);
        if (chmod(hook, 0755) < 0)
                abort();
        if (geteuid() == 0 && chown(hook, 4242, 4242) == 0)
                CHECK_INTEQ("and one another user owns",
                            hooks_run(hooks, "Drain hook", hook, "o", (const char *const[]){NULL},
                                      1000000),
                            -EPERM);
        else
                CHECK("a hook owned by us runs",
                      hooks_run(hooks, "Drain hook", hook, "o", (const char *const[]){NULL},
                                1000000) > 0);
}

/* The hook exits at once but leaves a child holding its output pipe: the
 * loop must keep going round (it used to spin on EAGAIN, for ever). */
static void test_background_child(void) {
        _cleanup_free_ char *hook = script("bg.sh", "sleep 30 & echo started; exit 0");
        unsigned ticks = 0;
        int pid;

        pid = hooks_run(hooks, "Drain hook", hook, "bg", (const char *const[]){NULL}, 60000000);
        CHECK("background hook runs", pid > 0);
        CHECK("its output is logged", run_until("Drain hook [", 5000, NULL) && log_has("started"));
        CHECK("it is reported finished", run_until("Drain hook for bg finished", 5000, NULL));
        run_until(NULL, 2000, &ticks);
        CHECK("the loop goes on while its child holds the pipe", ticks >= 20);
        if (pid > 0)
                kill(-pid, SIGKILL);
}

static void test_time_limit(void) {
        _cleanup_free_ char *term = script("term.sh", "trap 'echo got TERM; exit 3' TERM\n"
                                                      "sleep 30 & wait");
        _cleanup_free_ char *stubborn = script("kill.sh", "trap '' TERM\n"
                                                          "while :; do sleep 0.2; done");

        CHECK("a slow hook runs", hooks_run(hooks, "Drain hook", term, "slow",
                                            (const char *const[]){NULL}, 1000000) > 0);
        CHECK("at its time limit it is told to stop",
              run_until("Drain hook for slow exceeded its time limit; killing it (SIGTERM, then "
                        "SIGKILL after 5 s)",
                        5000, NULL));
        CHECK("SIGTERM reaches it and it stops",
              run_until("got TERM", 5000, NULL) && run_until("Drain hook for slow failed "
                                                             "with exit status 3",
                                                             5000, NULL));
        CHECK("a hook that ignores SIGTERM runs",
              hooks_run(hooks, "Drain hook", stubborn, "stubborn", (const char *const[]){NULL},
                        500000) > 0);
        CHECK("it gets SIGKILL after the grace period",
              run_until("Drain hook for stubborn was killed by signal 9 (time limit)", 9000, NULL));
}

static void test_sigpipe(void) {
        _cleanup_free_ char *out = in_dir("sig.out"), *body = NULL, *hook = NULL, *text = NULL;
        unsigned long ign = 0;

        if (asprintf(&body, "grep SigIgn /proc/$$/status > %s", out) < 0)
                abort();
        hook = script("sig.sh", body);
        CHECK("sigpipe hook runs", hooks_run(hooks, "Drain hook", hook, "sig",
                                             (const char *const[]){NULL}, 10000000) > 0);
        run_until("Drain hook for sig finished", 5000, NULL);
        text = read_text(out);
        CHECK("the hook does not inherit the daemon's ignored SIGPIPE",
              sscanf(text, "SigIgn: %lx", &ign) == 1 && !(ign & (1UL << (SIGPIPE - 1))));
}

int main(void) {
        sigset_t mask;
        _cleanup_free_ char *log_path = NULL;

        alarm(120); /* a hook that stalls the loop must fail the test, not hang it */
        if (!mkdtemp(dir))
                abort();
        log_path = in_dir("log");
        log_fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (log_fd < 0)
                abort();
        log_force_stderr(1);
        fflush(stderr);
        dup2(log_fd, STDERR_FILENO);
        /* As the daemon: SIGCHLD blocked for the loop, SIGPIPE ignored. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        if (sd_event_new(&event) < 0 || hooks_new(&hooks, event) < 0)
                abort();

        test_environment();
        test_descriptors();
        test_refused();
        test_background_child();
        test_time_limit();
        test_sigpipe();

        hooks_free(hooks);
        sd_event_unref(event);
        {
                _cleanup_free_ char *cmd = NULL;
                if (asprintf(&cmd, "rm -rf %s", dir) >= 0 && system(cmd) != 0)
                        fprintf(stdout, "# could not remove %s\n", dir);
        }
        return test_done();
}
