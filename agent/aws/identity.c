/* identity.c: parse the instance identity document.  Values are checked for
 * shape (printable, bounded) because they end up in logs, file names and
 * ECS requests. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "macro.h"

#define VALUE_MAX 256

void identity_done(struct identity *id) {
        if (!id)
                return;
        free(id->account_id);
        free(id->architecture);
        free(id->availability_zone);
        free(id->image_id);
        free(id->instance_id);
        free(id->instance_type);
        free(id->private_ip);
        free(id->region);
        *id = (struct identity){};
}

static bool printable(const char *s) {
        size_t n = 0;
        for (; *s; s++, n++)
                if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
                        return false;
        return n > 0 && n <= VALUE_MAX;
}

/* 0 and a copy (or NULL when absent); -EINVAL when present but malformed. */
static int field(const cJSON *o, const char *name, char **ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

        *ret = NULL;
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsString(v) || !printable(v->valuestring))
                return -EINVAL;
        *ret = strdup(v->valuestring);
        return *ret ? 0 : -ENOMEM;
}

int identity_parse(const char *json, size_t len, struct identity *ret, char **error) {
        static const struct {
                const char *name;
                size_t offset;
        } fields[] = {
                {"accountId", offsetof(struct identity, account_id)},
                {"architecture", offsetof(struct identity, architecture)},
                {"availabilityZone", offsetof(struct identity, availability_zone)},
                {"imageId", offsetof(struct identity, image_id)},
                {"instanceId", offsetof(struct identity, instance_id)},
                {"instanceType", offsetof(struct identity, instance_type)},
                {"privateIp", offsetof(struct identity, private_ip)},
                {"region", offsetof(struct identity, region)},
        };
        struct identity id = {};
        cJSON *o;
        int r = 0;

        if (!json || !ret)
                return -EINVAL;
        if (error)
                *error = NULL;
        o = cJSON_ParseWithLength(json, len);
        if (!cJSON_IsObject(o)) {
                if (error)
                        *error = strdup("the instance identity document is not a JSON object");
                cJSON_Delete(o);
                return -EINVAL;
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                r = field(o, fields[i].name, (char **)((char *)&id + fields[i].offset));
                if (r < 0) {
                        if (error && asprintf(error,
                                              "the instance identity document's %s is not a "
                                              "printable string",
                                              fields[i].name) < 0)
                                *error = NULL;
                        break;
                }
        }
        if (r == 0 && (!id.instance_id || !id.region)) {
                if (error && asprintf(error, "the instance identity document has no %s",
                                      !id.instance_id ? "instanceId" : "region") < 0)
                        *error = NULL;
                r = -EINVAL;
        }
        cJSON_Delete(o);
        if (r < 0) {
                identity_done(&id);
                return r;
        }
        *ret = id;
        return 0;
}
