/* fuzz-query.c: libFuzzer target for the cluster query parser.  Beyond not
 * crashing, it checks the printer: whatever parses has a canonical form that
 * parses again to the same canonical form, and every error renders. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "placement-query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct placement_query *q = NULL, *again = NULL;
        struct placement_error e = {};
        char *canonical = NULL, *canonical2 = NULL, *rendered = NULL, **subjects = NULL;

        if (size > 4 * PLACEMENT_QUERY_MAX_LENGTH)
                return 0;
        if (placement_query_parse(&q, (const char *)data, size, &e) < 0) {
                if (e.line > 0 && e.offset > size)
                        abort();
                placement_error_render(&e, (const char *)data, size, &rendered);
                free(rendered);
                return 0;
        }
        if (placement_query_format(q, &canonical) < 0)
                abort();
        /* The canonical form spells `&&` as ` and `, so it may outgrow the
         * length limit; short of that it must parse. */
        size_t chars = 0;
        for (const char *c = canonical; *c; c++)
                chars += ((unsigned char)*c & 0xC0) != 0x80;
        if (chars > PLACEMENT_QUERY_MAX_LENGTH)
                goto done;
        if (placement_query_parse(&again, canonical, strlen(canonical), &e) < 0)
                abort(); /* the canonical form must parse */
        if (placement_query_format(again, &canonical2) < 0 || strcmp(canonical, canonical2) != 0)
                abort(); /* and be a fixed point */
        if (placement_query_subjects(q, &subjects) < 0 || !subjects[0])
                abort();
        placement_query_strv_free(subjects);
done:
        free(canonical);
        free(canonical2);
        placement_query_free(again);
        placement_query_free(q);
        return 0;
}
