/* filter.c: compiled PCRE2 name filters (see filter.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "filter.h"

#define FILTER_MATCH_LIMIT 100000 /* steps: names are short */

struct filter {
        pcre2_code *code;
        pcre2_match_data *md;
        pcre2_match_context *mc;
};

struct filter *filter_free(struct filter *f) {
        if (!f)
                return NULL;
        pcre2_match_context_free(f->mc);
        pcre2_match_data_free(f->md);
        pcre2_code_free(f->code);
        free(f);
        return NULL;
}

int filter_new(struct filter **ret, const char *pattern, char **error) {
        _cleanup_(filter_freep) struct filter *f = calloc(1, sizeof *f);
        PCRE2_UCHAR msg[256];
        PCRE2_SIZE offset = 0;
        int code = 0;

        if (!f)
                return -ENOMEM;
        f->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_BACKSLASH_C,
                                &code, &offset, NULL);
        if (!f->code) {
                pcre2_get_error_message(code, msg, sizeof msg);
                return errmsg_set(error, "%s at offset %zu", (const char *)msg, (size_t)offset);
        }
        (void)pcre2_jit_compile(f->code, PCRE2_JIT_COMPLETE); /* the interpreter otherwise */
        f->md = pcre2_match_data_create_from_pattern(f->code, NULL);
        f->mc = pcre2_match_context_create(NULL);
        if (!f->md || !f->mc)
                return -ENOMEM;
        pcre2_set_match_limit(f->mc, FILTER_MATCH_LIMIT);
        *ret = TAKE_PTR(f);
        return 0;
}

bool filter_match(const struct filter *f, const char *s) {
        return pcre2_match(f->code, (PCRE2_SPTR)s, strlen(s), 0, 0, f->md, f->mc) >= 0;
}
