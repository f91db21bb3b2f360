/* macro.h: small helpers every module uses (cleanup attributes, array sizes).
 * Cleanup functions must accept pointers to NULL so early returns are safe. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
/* A result that must be looked at (gcc does not accept a (void) cast either). */
#define _must_check_ __attribute__((warn_unused_result))

/* Hand a cleanup-managed pointer to someone else: returns it and clears it. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _tp_ = (p);                                                          \
                (p) = NULL;                                                                        \
                _tp_;                                                                              \
        })

static inline void freep(void *p) {
        free(*(void **)p);
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_close_ _cleanup_(closep)

/* Declare a cleanup helper for a type whose destructor accepts NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
        static inline void func##p(type *p) {                                                      \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

static inline int streq_ptr(const char *a, const char *b) {
        return (a && b) ? strcmp(a, b) == 0 : a == b;
}

/* free() that returns NULL, for `p = mfree(p);` */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* Memory that held a secret (a key, a token, a body that carried them) is
 * wiped before it goes back to the allocator, so no freed block, and no core
 * or swap page made of one, holds it. */
static inline void erase_free(void *p, size_t n) {
        if (p) {
                explicit_bzero(p, n);
                free(p);
        }
}
/* The same for a string; returns NULL, for `s = erase_and_free(s);`. */
static inline void *erase_and_free(char *s) {
        if (s)
                erase_free(s, strlen(s));
        return NULL;
}
static inline void erase_and_freep(char **p) {
        erase_and_free(*p);
}
#define _cleanup_erase_ _cleanup_(erase_and_freep)

/* realloc() for a buffer that may hold a secret: realloc() may move the
 * block and free the old copy unwiped, so this always moves it and wipes
 * the old one.  used: bytes of p in use (copied).  NULL when out of memory,
 * p then untouched. */
static inline void *erase_realloc(void *p, size_t used, size_t size) {
        void *q = malloc(size ? size : 1);

        if (!q)
                return NULL;
        if (p) {
                memcpy(q, p, used < size ? used : size);
                erase_free(p, used);
        }
        return q;
}
