/* test-basic-auth.c: Basic credentials checked off the loop: the header
 * decoder, a first right password verified by the worker and then answered
 * from the cache, wrong ones never cached, a full queue answered at once,
 * and a free with checks still in flight. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic-auth.h"
#include "test-loop.h"
#include "test.h"

/* "s3cret" at cost 4 */
#define HASH "$2b$04$O97dVHVQeizozgqvPmja0eGlvL2VxX/OInBlxA.TqscUBij6KHqqa"

struct verdicts {
        int n, ok;
        void *last;
        bool done;
        int want;
};

static void on_done(void *cookie, bool ok, void *userdata) {
        struct verdicts *v = userdata;

        v->n++;
        v->ok += ok;
        v->last = cookie;
        v->done = v->n >= v->want;
}

static void test_decode(void) {
        char buf[BASIC_AUTH_DECODED_MAX];
        static const char *const bad[] = {
                NULL,
                "",
                "Basic",
                "Basic ",
                "Bearer dXNlcjpwdw==",
                "Basic dXNlcjpwdw",
                "Basic dXNl=jpw",
                "Basic dXNlcjpwdw== x",
                "Basic d@NlcjpwdA==",
        };
        int n = basic_auth_decode("Basic dXNlcjpwdw==", buf);

        CHECK("user:pw decoded", n == 7 && memcmp(buf, "user:pw", 7) == 0);
        n = basic_auth_decode("basic   dXNlcjpwd3g= ", buf);
        CHECK("any case, blanks around, one pad", n == 8 && memcmp(buf, "user:pwx", 8) == 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                CHECK_INTEQ(bad[i] ? bad[i] : "(none)", basic_auth_decode(bad[i], buf), -EINVAL);
}

static void test_flow(sd_event *e) {
        struct webconfig_user users[] = {{(char *)"user", (char *)HASH, 4}};
        struct verdicts v = {.want = 1};
        struct basic_auth *a = NULL;
        int cookie[8];

        if (!CHECK_INTEQ("made", basic_auth_new(&a, e, users, 1, on_done, &v), 0))
                return;
        /* user:s3cret, user:wrong, nobody:s3cret */
        CHECK_INTEQ("no header: denied at once", basic_auth_check(a, NULL, &cookie[0]),
                    BASIC_AUTH_DENIED);
        CHECK_INTEQ("no colon: denied at once", basic_auth_check(a, "Basic dXNlcg==", &cookie[0]),
                    BASIC_AUTH_DENIED);
        CHECK_INTEQ("right, first time: pending",
                    basic_auth_check(a, "Basic dXNlcjpzM2NyZXQ=", &cookie[1]), BASIC_AUTH_PENDING);
        CHECK("... the worker says ok, on the loop",
              test_run_until(e, &v.done, 5000) && v.ok == 1 && v.last == &cookie[1]);
        CHECK_INTEQ("right, again: from the cache",
                    basic_auth_check(a, "Basic dXNlcjpzM2NyZXQ=", &cookie[2]), BASIC_AUTH_OK);
        v = (struct verdicts){.want = 2};
        CHECK_INTEQ("wrong: pending", basic_auth_check(a, "Basic dXNlcjp3cm9uZw==", &cookie[3]),
                    BASIC_AUTH_PENDING);
        CHECK_INTEQ("unknown user: pending too (the decoy)",
                    basic_auth_check(a, "Basic bm9ib2R5OnMzY3JldA==", &cookie[4]),
                    BASIC_AUTH_PENDING);
        CHECK("... both refused", test_run_until(e, &v.done, 5000) && v.ok == 0);
        v = (struct verdicts){.want = 1};
        CHECK_INTEQ("wrong again: not cached, checked again",
                    basic_auth_check(a, "Basic dXNlcjp3cm9uZw==", &cookie[5]), BASIC_AUTH_PENDING);
        CHECK("... refused", test_run_until(e, &v.done, 5000) && v.ok == 0);
        v = (struct verdicts){.want = 100};
        for (int i = 0; i < BASIC_AUTH_JOBS_MAX; i++)
                (void)basic_auth_check(a, "Basic dXNlcjp3cm9uZw==", &cookie[6]);
        CHECK_INTEQ("a full queue: busy at once",
                    basic_auth_check(a, "Basic dXNlcjp3cm9uZw==", &cookie[7]), BASIC_AUTH_BUSY);
        CHECK_INTEQ("... but the cache still answers",
                    basic_auth_check(a, "Basic dXNlcjpzM2NyZXQ=", &cookie[7]), BASIC_AUTH_OK);
        basic_auth_free(a); /* with checks in flight: no verdict after this */
        CHECK("freed with checks in flight, no verdict after", v.n <= BASIC_AUTH_JOBS_MAX);
}

int main(void) {
        sd_event *e = NULL;

        test_decode();
        if (sd_event_new(&e) < 0)
                abort();
        test_flow(e);
        sd_event_unref(e);
        return test_done();
}
