/* ledger.c: notices.json (see ledger.h).  The format is what ledger_format()
 * writes; the parser takes nothing for granted, since the file lives on a
 * disk that anyone with root (or a restored image) may have touched. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "ledger.h"
#include "macro.h"

#define LEDGER_FILE_MAX (256 * 1024) /* bytes: 64 entries take a few KiB */
#define ID_MAX 512
#define ACTION_MAX 128
#define TIME_LIMIT 253402300800.0 /* 10000-01-01T00:00:00Z */

void ledger_entry_done(struct ledger_entry *e) {
        if (!e)
                return;
        free(e->id);
        free(e->action);
        *e = (struct ledger_entry){};
}

void ledger_entries_free(struct ledger_entry *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                ledger_entry_done(&v[i]);
        free(v);
}

static int kind_from_name(const char *s, enum notice_kind *ret) {
        for (int k = 0; k < _NOTICE_KIND_MAX; k++)
                if (streq_ptr(s, notice_kind_name((enum notice_kind)k))) {
                        *ret = (enum notice_kind)k;
                        return 0;
                }
        return -EINVAL;
}

static bool flag(const cJSON *item, const char *name) {
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, name));
}

static const char *string(const cJSON *item, const char *name) {
        return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, name));
}

/* One entry; -EINVAL when it cannot be ours. */
static int parse_entry(const cJSON *item, struct ledger_entry *ret) {
        const char *id = string(item, "id"), *action = string(item, "action"),
                   *result = string(item, "result"), *follow = string(item, "follow"),
                   *release = string(item, "release");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, "time"),
                    *at = cJSON_GetObjectItemCaseSensitive(item, "drainedAt");
        struct ledger_entry e = {};

        /* A time outside 1970..9999 (or not a number) would not convert to
         * time_t: such an entry is not ours. */
        if (!id || !*id || strlen(id) > ID_MAX || !action || strlen(action) > ACTION_MAX ||
            kind_from_name(string(item, "kind"), &e.kind) < 0 || !cJSON_IsNumber(t) ||
            !(t->valuedouble >= 0 && t->valuedouble < TIME_LIMIT))
                return -EINVAL;
        if (!(e.id = strdup(id)) || !(e.action = strdup(action))) {
                ledger_entry_done(&e);
                return -ENOMEM;
        }
        e.time = (time_t)t->valuedouble;
        e.drained = flag(item, "drained");
        e.by_us = flag(item, "byUs");
        e.hook_done = flag(item, "hookDone");
        e.undone = flag(item, "undone");
        snprintf(e.result, sizeof e.result, "%s", result ? result : "");
        /* Optional (written since the follow): a bad one is as if absent. */
        if (cJSON_IsNumber(at) && at->valuedouble > 0 && at->valuedouble < TIME_LIMIT)
                e.drained_at = (time_t)at->valuedouble;
        if (streq_ptr(follow, "empty") || streq_ptr(follow, "deadline"))
                snprintf(e.follow, sizeof e.follow, "%s", follow);
        if (release && strlen(release) < sizeof e.release &&
            strspn(release, "abcdefghijklmnopqrstuvwxyz_") == strlen(release))
                snprintf(e.release, sizeof e.release, "%s", release);
        *ret = e;
        return 0;
}

int ledger_parse(const char *text, size_t len, struct ledger_entry **ret, size_t *ret_n) {
        cJSON *o = cJSON_ParseWithLength(text, len);
        struct ledger_entry *v = NULL;
        const cJSON *item;
        size_t n = 0;
        int r = 0;

        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return -EINVAL;
        }
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "notices")) {
                if (n >= LEDGER_MAX)
                        break;
                if (!v && !(v = calloc(LEDGER_MAX, sizeof *v))) {
                        r = -ENOMEM;
                        break;
                }
                r = parse_entry(item, &v[n]);
                if (r == -ENOMEM)
                        break;
                if (r == 0)
                        n++;
                r = 0;
        }
        cJSON_Delete(o);
        if (r < 0 || n == 0) {
                ledger_entries_free(v, n);
                v = NULL;
                n = 0;
        }
        if (r < 0)
                return r;
        *ret = v;
        *ret_n = n;
        return 0;
}

char *ledger_format(const struct ledger_entry *const *entries, size_t n) {
        cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "notices");
        char *text;

        for (size_t i = 0; a && i < n && i < LEDGER_MAX; i++) {
                const struct ledger_entry *e = entries[i];
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "id", e->id);
                cJSON_AddStringToObject(j, "kind", notice_kind_name(e->kind));
                cJSON_AddStringToObject(j, "action", e->action);
                cJSON_AddNumberToObject(j, "time", (double)e->time);
                cJSON_AddBoolToObject(j, "drained", e->drained);
                cJSON_AddBoolToObject(j, "byUs", e->by_us);
                cJSON_AddBoolToObject(j, "hookDone", e->hook_done);
                cJSON_AddBoolToObject(j, "undone", e->undone);
                cJSON_AddStringToObject(j, "result", e->result);
                if (e->drained_at)
                        cJSON_AddNumberToObject(j, "drainedAt", (double)e->drained_at);
                if (e->follow[0])
                        cJSON_AddStringToObject(j, "follow", e->follow);
                if (e->release[0])
                        cJSON_AddStringToObject(j, "release", e->release);
                cJSON_AddItemToArray(a, j);
        }
        text = cJSON_Print(o);
        cJSON_Delete(o);
        return text;
}

int ledger_load(const char *dir, struct ledger_entry **ret, size_t *ret_n, char **error) {
        _cleanup_free_ char *path = NULL, *text = NULL, *aside = NULL;
        size_t len = 0;
        int r;

        if (error)
                *error = NULL;
        if (asprintf(&path, "%s/" LEDGER_FILE, dir) < 0)
                return -ENOMEM;
        r = fileio_read(path, LEDGER_FILE_MAX, FILEIO_NOFOLLOW, &text, &len);
        if (r == 0)
                r = ledger_parse(text, len, ret, ret_n);
        /* Not what ledger_save() writes: set aside for a human, as state.json is. */
        if (r != -EINVAL && r != -EFBIG && r != -ELOOP && r != -EISDIR && r != -EBADFD)
                return r;
        r = fileio_move_aside(path, &aside);
        if (r < 0)
                return r;
        if (error && asprintf(error, "%s is not a notice ledger; moved it to %s", path, aside) < 0)
                *error = NULL;
        return -EBADMSG;
}

int ledger_save(const char *dir, const struct ledger_entry *const *entries, size_t n) {
        _cleanup_free_ char *text = ledger_format(entries, n);

        if (!text)
                return -ENOMEM;
        return fileio_write_atomic(dir, LEDGER_FILE, text);
}
