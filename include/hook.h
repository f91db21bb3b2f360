/* hook.h: the drain hook runner.  A hook is an executable run in its own
 * process group with the event in its environment; its output is logged
 * line by line, it is killed (its whole group) at its time limit, and it is
 * reaped from the loop.  Nothing here blocks or waits on the hook.  The
 * runner belongs to the daemon, not to the watcher that asked for a run: a
 * reload rebuilds the watcher while a hook still runs, and the hook is still
 * logged, time-limited and reaped. */
#pragma once

#include "macro.h"

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#define HOOK_OUTPUT_MAX 4096 /* bytes of one output line; longer ones are cut into pieces */

struct hooks;

int hooks_new(struct hooks **ret, sd_event *event);
/* Stops following the hooks still running (they are not killed). */
struct hooks *hooks_free(struct hooks *h);

/* Whether path may run as the hook: a regular, executable file that only
 * root or ecs-hostd's own user can write (not group- or world-writable).
 * 0, or -EINVAL with *why (malloc'd) saying what is wrong. */
int hook_check_file(const char *path, char **why);

/* Run path for the run named id (for the log), refused (-EPERM, logged)
 * when hook_check_file() refuses it.  Its environment holds only PATH, LANG
 * and TZ of the daemon's, and env ("NAME=value" strings, NULL-terminated):
 * never the AWS keys, NOTIFY_SOCKET or the configuration.  stdin is
 * /dev/null, stdout and stderr go to the log, and no other descriptor of
 * the daemon's is open in it.  At timeout_usec its whole process group
 * gets SIGTERM, and SIGKILL 5 s later.  Returns the pid, or a negative
 * errno (nothing runs).  label (static) names it in the log: "Drain hook".
 */
_must_check_ int hooks_run(struct hooks *h, const char *label, const char *path, const char *id,
                           const char *const *env, uint64_t timeout_usec);
