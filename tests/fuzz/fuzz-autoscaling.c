/* fuzz-autoscaling.c: the Auto Scaling client's XML reader on any bytes, as
 * an answer of both lifecycle actions and as an error answer.  Beyond "no
 * crash, no leak": a success hands over a document, an error has a code of
 * at most 128 bytes and a message of at most 400, neither with a control
 * character, and a failure is one of the errors the header lists. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaling.h"

static void check_failure(int r) {
        if (r != -EMSGSIZE && r != -ENOTSUP && r != -ELOOP && r != -EBADMSG && r != -EPROTO &&
            r != -ENOMEM)
                abort();
}

static void check_text(const char *s, size_t max) {
        if (!s)
                return;
        if (strlen(s) > max)
                abort();
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const actions[] = {"CompleteLifecycleAction",
                                              "RecordLifecycleActionHeartbeat"};
        struct autoscaling_error e = {};
        int r;

        for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
                struct _xmlDoc *doc = NULL;
                char *rid = NULL;

                r = autoscaling_parse_answer((const char *)data, size, actions[i], &doc, &rid);
                if (r == 0) {
                        if (!doc)
                                abort();
                        check_text(rid, 128);
                        autoscaling_document_free(doc);
                        free(rid);
                } else
                        check_failure(r);
        }
        r = autoscaling_parse_error((const char *)data, size, &e);
        if (r == 0) {
                if (!e.code || !*e.code)
                        abort();
                check_text(e.code, 128);
                check_text(e.type, 128);
                check_text(e.message, 400);
                check_text(e.request_id, 128);
                autoscaling_error_done(&e);
        } else
                check_failure(r);
        return 0;
}
