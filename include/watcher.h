/* watcher.h: decides when the host must drain, and drains it.  Polls the
 * IMDS interruption signals on the daemon's loop (one reused connection and
 * token), at ECS_HOSTD_POLL_INTERVAL_MS, in a fixed rhythm that nothing else
 * can delay: ECS calls, retries and the drain hook all run alongside.  Each
 * notice is handled once (remembered in ECS_HOSTD_DATADIR/notices.json, see
 * ledger.h, across restarts); a drain is confirmed only by ECS's answer. */
#pragma once

#include "aws-clients.h"
#include "config.h"
#include "hook.h"
#include "macro.h"

struct watcher;

/* The watcher's status line changed (watcher_status()); the daemon, which
 * owns STATUS=, composes it. */
typedef void (*watcher_status_t)(void *userdata);

/* aws, cfg and hooks are borrowed and outlive the watcher.  Polling starts
 * at once; drains wait until watcher_set_target() names the container
 * instance. */
int watcher_new(struct watcher **ret, struct aws_clients *aws, const struct config *cfg,
                struct hooks *hooks, watcher_status_t status_cb, void *userdata);
struct watcher *watcher_free(struct watcher *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct watcher *, watcher_free)

/* The container instance to drain (after joining; both strings copied). */
_must_check_ int watcher_set_target(struct watcher *w, const char *cluster, const char *arn);

/* The line for STATUS= while a notice is or was handled ("spot terminate at
 * ... (in 118 s): DRAINING confirmed"), else NULL. */
const char *watcher_status(const struct watcher *w);
