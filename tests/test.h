/* test.h: the unit tests' TAP output.  Each check prints "ok N - name" or
 * "not ok N - name: why"; tests/run-suite counts those lines.  A test program
 * ends with `return test_done();`, which exits non-zero on any failure. */
#pragma once

#include <stdio.h>
#include <string.h>

static int test_n_ok_, test_n_fail_;

static inline int test_report_(int ok, const char *name, const char *file, int line,
                               const char *why) {
        int n = test_n_ok_ + test_n_fail_ + 1;
        if (ok) {
                test_n_ok_++;
                printf("ok %d - %s\n", n, name);
        } else {
                test_n_fail_++;
                printf("not ok %d - %s: %s (%s:%d)\n", n, name, why, file, line);
        }
        fflush(stdout);
        return ok;
}

/* One named check.  Returns whether it held, so callers can skip dependants. */
#define CHECK(name, cond) test_report_(!!(cond), (name), __FILE__, __LINE__, #cond)

/* Compare strings; prints both on mismatch. */
#define CHECK_STREQ(name, got, want)                                                               \
        ({                                                                                         \
                const char *g_ = (got), *w_ = (want);                                              \
                int ok_ = g_ && w_ && strcmp(g_, w_) == 0;                                         \
                if (!ok_)                                                                          \
                        fprintf(stdout, "# got:  [%s]\n# want: [%s]\n", g_ ? g_ : "(null)",        \
                                w_ ? w_ : "(null)");                                               \
                test_report_(ok_, (name), __FILE__, __LINE__, "strings differ");                   \
        })

#define CHECK_INTEQ(name, got, want)                                                               \
        ({                                                                                         \
                long long g_ = (long long)(got), w_ = (long long)(want);                           \
                if (g_ != w_)                                                                      \
                        fprintf(stdout, "# got: %lld want: %lld\n", g_, w_);                       \
                test_report_(g_ == w_, (name), __FILE__, __LINE__, "integers differ");             \
        })

static inline int test_done(void) {
        printf("# %d passed, %d failed\n", test_n_ok_, test_n_fail_);
        return test_n_fail_ ? 1 : 0;
}
