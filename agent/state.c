/* state.c: state.json.  The parser accepts exactly the shape state_format()
 * writes (extra keys are ignored for forward compatibility); saving goes
 * through a temporary file so readers and crashes only ever see whole files. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "state.h"

#define STATE_MAX_SIZE (256 * 1024)

void state_done(struct state *s) {
        if (!s)
                return;
        free(s->container_instance_arn);
        free(s->cluster);
        free(s->region);
        free(s->ec2_instance_id);
        for (size_t i = 0; i < s->n_owned_attributes; i++)
                free(s->owned_attributes[i]);
        free(s->owned_attributes);
        *s = (struct state){};
}

int state_set_owned(struct state *s, char *const *names, size_t n) {
        char **v = calloc(n ? n : 1, sizeof(char *));

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(v[i] = strdup(names[i]))) {
                        while (i > 0)
                                free(v[--i]);
                        free(v);
                        return -ENOMEM;
                }
        for (size_t i = 0; i < s->n_owned_attributes; i++)
                free(s->owned_attributes[i]);
        free(s->owned_attributes);
        s->owned_attributes = v;
        s->n_owned_attributes = n;
        return 0;
}

static int fail(char **error, const char *what) {
        if (error)
                *error = strdup(what);
        return -EINVAL;
}

static int take_string(const cJSON *o, const char *key, char **ret, char **error) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        char msg[128];

        if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 2048) {
                snprintf(msg, sizeof msg, "\"%s\" is missing or not a non-empty string", key);
                return fail(error, msg);
        }
        *ret = strdup(v->valuestring);
        return *ret ? 0 : -ENOMEM;
}

int state_parse(const char *json, size_t len, struct state *ret, char **error) {
        struct state s = {};
        const cJSON *owned, *item;
        cJSON *o;
        int r;

        if (!json || !ret)
                return -EINVAL;
        if (error)
                *error = NULL;
        o = cJSON_ParseWithLength(json, len);
        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return fail(error, "not a JSON object");
        }
        if ((r = take_string(o, "containerInstanceArn", &s.container_instance_arn, error)) < 0 ||
            (r = take_string(o, "cluster", &s.cluster, error)) < 0 ||
            (r = take_string(o, "region", &s.region, error)) < 0 ||
            (r = take_string(o, "ec2InstanceId", &s.ec2_instance_id, error)) < 0)
                goto out;
        owned = cJSON_GetObjectItemCaseSensitive(o, "ownedAttributes");
        if (owned) {
                size_t n = 0;
                if (!cJSON_IsArray(owned)) {
                        r = fail(error, "\"ownedAttributes\" is not an array");
                        goto out;
                }
                s.owned_attributes = calloc((size_t)cJSON_GetArraySize(owned) + 1, sizeof(char *));
                if (!s.owned_attributes) {
                        r = -ENOMEM;
                        goto out;
                }
                cJSON_ArrayForEach(item, owned) {
                        if (!cJSON_IsString(item) || !item->valuestring[0]) {
                                r = fail(error, "\"ownedAttributes\" holds a non-string");
                                goto out;
                        }
                        if (!(s.owned_attributes[n++] = strdup(item->valuestring))) {
                                r = -ENOMEM;
                                goto out;
                        }
                        s.n_owned_attributes = n;
                }
        }
        *ret = s;
        s = (struct state){};
        r = 0;
out:
        state_done(&s);
        cJSON_Delete(o);
        return r;
}

char *state_format(const struct state *s) {
        cJSON *o = cJSON_CreateObject(), *a;
        char *text = NULL;

        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "containerInstanceArn", s->container_instance_arn ?: "");
        cJSON_AddStringToObject(o, "cluster", s->cluster ?: "");
        cJSON_AddStringToObject(o, "region", s->region ?: "");
        cJSON_AddStringToObject(o, "ec2InstanceId", s->ec2_instance_id ?: "");
        a = cJSON_AddArrayToObject(o, "ownedAttributes");
        for (size_t i = 0; a && i < s->n_owned_attributes; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(s->owned_attributes[i]));
        text = cJSON_Print(o);
        cJSON_Delete(o);
        return text;
}

int state_load(const char *dir, struct state *ret, char **error) {
        _cleanup_free_ char *path = NULL, *text = NULL, *why = NULL, *aside = NULL;
        size_t len = 0;
        int r;

        if (error)
                *error = NULL;
        if (asprintf(&path, "%s/" STATE_FILE, dir) < 0)
                return -ENOMEM;
        r = fileio_read(path, STATE_MAX_SIZE, FILEIO_NOFOLLOW, &text, &len);
        if (r == -ENOENT)
                return r;
        if (r == 0)
                r = state_parse(text, len, ret, &why);
        if (r == 0)
                return 0;
        /* Not what we write: not JSON of our shape, a symlink, not a regular
         * file, or far too large. */
        if (r != -EINVAL && r != -ELOOP && r != -EISDIR && r != -EBADFD && r != -EFBIG)
                return r;
        /* Corrupt: keep it for a human to look at, start without state. */
        r = fileio_move_aside(path, &aside);
        if (r < 0)
                return r;
        if (error && asprintf(error, "%s is corrupt (%s); moved it to %s", path,
                              why ? why : "not a regular file of a sane size", aside) < 0)
                *error = NULL;
        return -EBADMSG;
}

int state_save(const char *dir, const struct state *s) {
        _cleanup_free_ char *text = state_format(s);

        if (!text)
                return -ENOMEM;
        return fileio_write_atomic(dir, STATE_FILE, text);
}
