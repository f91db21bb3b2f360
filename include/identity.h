/* identity.h: the EC2 instance identity document
 * (/latest/dynamic/instance-identity/document), parsed.  Pure. */
#pragma once

#include <stddef.h>

#define IDENTITY_DOCUMENT_PATH "/latest/dynamic/instance-identity/document"
#define IDENTITY_SIGNATURE_PATH "/latest/dynamic/instance-identity/signature"

struct identity {
        char *account_id;
        char *architecture;
        char *availability_zone;
        char *image_id;
        char *instance_id;
        char *instance_type;
        char *private_ip;
        char *region;
};

/* Requires instanceId and region; the rest may be missing (NULL).  On
 * failure returns -EINVAL with *error (malloc'd) naming the field. */
int identity_parse(const char *json, size_t len, struct identity *ret, char **error);
void identity_done(struct identity *id);
