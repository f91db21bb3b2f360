/* watcher.h: decides when the host must drain, and drains it.  Polls the
 * IMDS interruption signals on the daemon's loop (one reused connection and
 * token), at ECS_HOSTD_POLL_INTERVAL_MS, in a fixed rhythm that nothing else
 * can delay: ECS calls, retries and the drain hook all run alongside.  Each
 * notice is handled once (remembered in ECS_HOSTD_DATADIR/notices.json across
 * restarts); a drain is confirmed only by ECS's answer. */
#pragma once

#include <stddef.h>

#include "aws-clients.h"
#include "config.h"

struct watcher;

/* aws and cfg are borrowed.  Polling starts at once; drains wait until
 * watcher_set_target() names the container instance. */
int watcher_new(struct watcher **ret, struct aws_clients *aws, const struct config *cfg);
struct watcher *watcher_free(struct watcher *w);

/* The container instance to drain (after joining; both strings copied). */
int watcher_set_target(struct watcher *w, const char *cluster, const char *arn);

/* One line for STATUS= while a notice is being handled, else NULL. */
const char *watcher_status(const struct watcher *w);

/* Pure: parse notices.json's text (the ledger of handled notices) and
 * return how many notices it holds, or -EINVAL.  For tests and the fuzzer. */
int watcher_ledger_check(const char *text, size_t len);
