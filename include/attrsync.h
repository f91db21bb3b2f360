/* attrsync.h: keep the container instance's custom attributes equal to the
 * configured ones.  A sync reads the desired set (ECS_INSTANCE_ATTRIBUTES and
 * the attributes directory), asks ECS what the instance has, and sends only
 * the difference (PutAttributes / DeleteAttributes, at most 10 per call).
 * It deletes only attributes ecs-hostd put itself (remembered in the state
 * file), so one added by hand with the AWS CLI survives.  Syncs run after
 * joining, on SIGHUP and when a file in the attributes directory changes;
 * one at a time, a request during a sync runs another one after it. */
#pragma once

#include "aws-clients.h"
#include "config.h"
#include "state.h"

struct attrsync;

/* The outcome of one sync, for the owner's log and status. */
typedef void (*attrsync_callback_t)(int error, const char *message, void *userdata);

/* state is borrowed (the registration's) and updated as attributes are put
 * and deleted; it is saved to datadir after each change. */
int attrsync_new(struct attrsync **ret, struct aws_clients *aws, const struct config *cfg,
                 struct state *state, attrsync_callback_t cb, void *userdata);
struct attrsync *attrsync_free(struct attrsync *s);

/* Ask for a sync (now, or right after the running one). */
void attrsync_request(struct attrsync *s);

/* Validate the configured attributes (ECS_INSTANCE_ATTRIBUTES and the
 * attributes directory) against ECS's rules, for --check-config, start and
 * reload: the configuration itself only knows ECS_INSTANCE_ATTRIBUTES is
 * text.  Appends every problem to errs, an ECS_INSTANCE_ATTRIBUTES one at
 * the file and line that set it; returns -EINVAL if there was any. */
int attrsync_check_config(const struct config *cfg, struct errors *errs);
