/* fuzz-notice.c: every IMDS signal parser on the same bytes.  Beyond "no
 * crash, no leak": a success has an id and an action, a failure has a message
 * that quotes at most 64 bytes of input (so it stays short), and a notice
 * survives notice_copy(). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notice.h"

/* Longest message: the path, "event N", the field and a 64-byte quote whose
 * bytes may each be escaped to four characters. */
#define MESSAGE_MAX 512

static void check_error(int r, char *error) {
        if (r == -EINVAL && (!error || strlen(error) > MESSAGE_MAX))
                abort();
        free(error);
}

static void check_notice(const struct notice *n) {
        struct notice c = {};

        if (!n->id || !n->action || !notice_kind_name(n->kind))
                abort();
        if (n->warning && strlen(n->warning) > MESSAGE_MAX)
                abort();
        if (notice_copy(n, &c) == 0) {
                if (strcmp(c.id, n->id) != 0 || c.time != n->time)
                        abort();
                notice_done(&c);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *body = (const char *)data;
        struct notice n = {}, *v = NULL;
        char *error = NULL, *state = NULL, *copy;
        size_t count = 0;
        time_t t;
        int r;

        r = notice_parse_spot_action(body, size, &n, &error);
        if (r == 0)
                check_notice(&n);
        notice_done(&n);
        check_error(r, error);
        error = NULL;

        r = notice_parse_termination_time(body, size, &n, &error);
        if (r == 0)
                check_notice(&n);
        notice_done(&n);
        check_error(r, error);
        error = NULL;

        r = notice_parse_rebalance(body, size, &n, &error);
        if (r == 0)
                check_notice(&n);
        notice_done(&n);
        check_error(r, error);
        error = NULL;

        r = notice_parse_asg_state(body, size, &state, &error);
        if (r == 0) {
                if (notice_from_asg_state(state, &n) == 0)
                        check_notice(&n);
                notice_done(&n);
                free(state);
        }
        check_error(r, error);
        error = NULL;

        r = notice_parse_maintenance(body, size, &v, &count, &error);
        if (r == 0) {
                if ((count == 0) != (v == NULL))
                        abort();
                for (size_t i = 0; i < count; i++) {
                        check_notice(&v[i]);
                        if (!v[i].event_id)
                                abort();
                }
                notice_list_free(v, count);
        }
        check_error(r, error);

        /* The time parsers take C strings: up to the first NUL. */
        copy = strndup(body, size);
        if (copy) {
                char iso[32];
                if (notice_parse_iso_time(copy, &t) == 0 &&
                    notice_format_iso_time(t, iso, sizeof iso) < 0)
                        abort();
                if (notice_parse_maintenance_time(copy, &t) == 0 &&
                    notice_format_iso_time(t, iso, sizeof iso) < 0)
                        abort();
                free(copy);
        }
        return 0;
}
