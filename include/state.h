/* state.h: what ecs-hostd remembers across restarts, in
 * ECS_HOSTD_DATADIR/state.json: its container instance (ARN, cluster,
 * region, EC2 instance id) and the custom attributes it put itself.  Written
 * atomically (temporary file, fsync, rename, fsync of the directory), so a
 * crash leaves the old or the new file, never a torn one.  A file that does
 * not parse is set aside, never fatal. */
#pragma once

#include "macro.h"

#include <stddef.h>

#define STATE_FILE "state.json"

struct state {
        char *container_instance_arn;
        char *cluster;
        char *region;
        char *ec2_instance_id;
        char **owned_attributes; /* names of the attributes ecs-hostd put */
        size_t n_owned_attributes;
};
void state_done(struct state *s);

/* Pure: parse state.json's text.  -EINVAL with *error (malloc'd) naming the
 * problem when it is not what state_format() writes. */
int state_parse(const char *json, size_t len, struct state *ret, char **error);
/* JSON text of s (malloc'd), or NULL on OOM. */
char *state_format(const struct state *s);

/* Load dir/state.json.  0: loaded; -ENOENT: no state yet; -EBADMSG: the file
 * was corrupt and has been renamed to state.json.corrupt-<unix time>
 * (*error says so, with the reason); other negative errno: cannot read. */
int state_load(const char *dir, struct state *ret, char **error);
/* Write dir/state.json atomically (creating dir, mode 0700, when missing). */
_must_check_ int state_save(const char *dir, const struct state *s);

/* Replace the owned attribute names (copied). */
_must_check_ int state_set_owned(struct state *s, char *const *names, size_t n);
