/* ledger.h: notices.json, the watcher's record of the notices it has
 * handled, so that a restart in the middle of a notice neither drains nor
 * runs the hook again.  Parsing and formatting are pure (and fuzzed);
 * ledger_load() and ledger_save() read and write ECS_HOSTD_DATADIR's file,
 * bounded and atomically.  An entry that cannot be ours (an unknown kind, a
 * time that is missing or outside 1970..9999, an over-long id) is dropped,
 * never trusted. */
#pragma once

#include "macro.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "notice.h"

#define LEDGER_FILE "notices.json"
#define LEDGER_MAX 64 /* notices remembered, newest first */
#define LEDGER_RESULT_MAX 32

struct ledger_entry {
        char *id; /* the notice's id, e.g. "spot/terminate/2026-11-22T12:02:00Z" */
        enum notice_kind kind;
        char *action; /* the notice's action */
        time_t time;  /* the notice's own time */
        bool drained; /* ECS confirmed DRAINING */
        bool by_us;   /* ecs-hostd set DRAINING (so it may undo it) */
        bool hook_done;
        bool undone;                    /* set ACTIVE again after the notice went away */
        char result[LEDGER_RESULT_MAX]; /* "confirmed", "failed", "dry-run", "undone" or "" */
        time_t drained_at;              /* when ECS confirmed DRAINING (0: not, or before 0.2) */
        char follow[LEDGER_RESULT_MAX]; /* the follow's end: "empty", "deadline", or "" */
        /* An Auto Scaling lifecycle action's release (CompleteLifecycleAction):
         * its outcome ("done", "no_action", "refused", "no_group", "denied",
         * "gave_up"), or "" while not released. */
        char release[LEDGER_RESULT_MAX];
};
void ledger_entry_done(struct ledger_entry *e);
void ledger_entries_free(struct ledger_entry *v, size_t n);

/* Pure: notices.json's text to its entries, newest first (at most
 * LEDGER_MAX; *ret is NULL when there are none).  -EINVAL when the text is
 * not a ledger at all, -ENOMEM. */
int ledger_parse(const char *text, size_t len, struct ledger_entry **ret, size_t *ret_n);
/* Pure: the text of the first LEDGER_MAX entries (malloc'd), or NULL. */
char *ledger_format(const struct ledger_entry *const *entries, size_t n);

/* dir/notices.json: 0 with its entries; -ENOENT when there is none;
 * -EBADMSG when it was not a ledger and has been moved to
 * notices.json.corrupt-<unix time> (*error says so); other negative errno
 * when it cannot be read. */
_must_check_ int ledger_load(const char *dir, struct ledger_entry **ret, size_t *ret_n,
                             char **error);
_must_check_ int ledger_save(const char *dir, const struct ledger_entry *const *entries, size_t n);
