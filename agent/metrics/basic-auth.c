/* basic-auth.c: Basic authentication with bcrypt off the loop (see
 * basic-auth.h).  The loop owns the cache and the count of checks in
 * flight; the worker sees only the queue, the done list and the users,
 * which never change after basic_auth_new().  Every buffer that held a
 * password, and the cache, are wiped before they are freed. */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "basic-auth.h"

#define DIGEST 32 /* SHA-256 */

struct job {
        void *cookie;
        int user; /* index into users, or -1: unknown (checked against the decoy) */
        char *password;
        size_t password_len;
        uint8_t digest[DIGEST];
        bool ok;
};

struct user {
        char *name;
        char *hash;
        uint8_t name_digest[DIGEST];
};

struct cache_entry {
        bool used;
        int user;
        uint8_t digest[DIGEST];
};

struct basic_auth {
        /* set up by basic_auth_new, then read-only for both threads */
        struct user *users;
        size_t n_users;
        /* An unknown user's password is checked against this setting, of
         * the users' highest cost, so a wrong name takes as long as a
         * wrong password and does not tell which names exist. */
        char decoy[CRYPT_GENSALT_OUTPUT_SIZE];
        uint8_t key[DIGEST]; /* salts the cache's digests */
        int efd;

        /* shared: under lock */
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool quit;
        struct job *queue[BASIC_AUTH_JOBS_MAX], *done[BASIC_AUTH_JOBS_MAX];
        size_t n_queue, n_done;
        pthread_t worker;
        bool have_worker;

        /* the loop's */
        sd_event_source *io;
        size_t in_flight; /* queued + running + done, not yet answered */
        struct cache_entry cache[BASIC_AUTH_CACHE_MAX];
        size_t cache_next;
        basic_auth_done_fn done_fn;
        void *userdata;
};

/* ---- pure helpers ---- */

int basic_auth_decode(const char *h, char buf[static BASIC_AUTH_DECODED_MAX]) {
        unsigned char out[BASIC_AUTH_DECODED_MAX + 3];
        size_t len, pad;
        int n;

        if (!h || strncasecmp(h, "Basic", 5) != 0 || (h[5] != ' ' && h[5] != '\t'))
                return -EINVAL;
        h += 5;
        while (*h == ' ' || *h == '\t')
                h++;
        len = strcspn(h, " \t");
        if (len == 0 || len % 4 != 0 || h[len + strspn(h + len, " \t")] != 0 ||
            len / 4 * 3 > sizeof out)
                return -EINVAL;
        pad = (h[len - 1] == '=') + (h[len - 2] == '=');
        /* OpenSSL's decoder: whole groups of four, '=' decoded as zero bits. */
        n = EVP_DecodeBlock(out, (const unsigned char *)h, (int)len);
        if (n < 0 || (size_t)n < pad || (size_t)n - pad > BASIC_AUTH_DECODED_MAX ||
            memchr(h, '=', len - pad)) {
                OPENSSL_cleanse(out, sizeof out);
                return -EINVAL;
        }
        memcpy(buf, out, (size_t)n - pad);
        OPENSSL_cleanse(out, sizeof out);
        return n - (int)pad;
}

/* SHA-256 of the key, then each part: what the cache and the user lookup
 * compare, so neither holds a name or password as such. */
static void digest(const struct basic_auth *a, const void *p1, size_t n1, const void *p2, size_t n2,
                   uint8_t out[static DIGEST]) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned n = 0;

        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
            !EVP_DigestUpdate(ctx, a->key, sizeof a->key) || !EVP_DigestUpdate(ctx, p1, n1) ||
            !EVP_DigestUpdate(ctx, p2, n2) || !EVP_DigestFinal_ex(ctx, out, &n)) {
                /* Unique garbage: matches nothing that was stored.  Checked,
                 * as _FORTIFY_SOURCE (the packages' builds) insists: should
                 * getrandom() fail, OpenSSL's generator fills it. */
                if (getrandom(out, DIGEST, 0) != DIGEST && RAND_bytes(out, DIGEST) != 1)
                        memset(out, 0, DIGEST);
        }
        EVP_MD_CTX_free(ctx);
}

/* The user's index, or -1; every user is compared, in constant time, so
 * the time taken says nothing about which names exist. */
static int find_user(const struct basic_auth *a, const char *name, size_t len) {
        uint8_t d[DIGEST];
        int found = -1;

        digest(a, name, len, "", 0, d);
        for (size_t i = 0; i < a->n_users; i++) {
                int eq = CRYPTO_memcmp(a->users[i].name_digest, d, DIGEST) == 0;
                found = eq && found < 0 ? (int)i : found;
        }
        return found;
}

static bool cache_has(const struct basic_auth *a, int user, const uint8_t d[static DIGEST]) {
        bool hit = false;

        for (size_t i = 0; i < BASIC_AUTH_CACHE_MAX; i++) {
                const struct cache_entry *e = &a->cache[i];
                hit |= e->used && e->user == user && CRYPTO_memcmp(e->digest, d, DIGEST) == 0;
        }
        return hit;
}

static void cache_add(struct basic_auth *a, int user, const uint8_t d[static DIGEST]) {
        struct cache_entry *e = &a->cache[a->cache_next];

        if (cache_has(a, user, d))
                return;
        a->cache_next = (a->cache_next + 1) % BASIC_AUTH_CACHE_MAX;
        e->used = true;
        e->user = user;
        memcpy(e->digest, d, DIGEST);
}

static struct job *job_free(struct job *j) {
        if (j) {
                erase_free(j->password, j->password_len);
                explicit_bzero(j, sizeof *j);
                free(j);
        }
        return NULL;
}

/* ---- the worker ---- */

static bool verify(const struct basic_auth *a, const struct job *j, struct crypt_data *cd) {
        const char *setting = j->user >= 0 ? a->users[j->user].hash : a->decoy;
        const char *out = crypt_rn(j->password, setting, cd, (int)sizeof *cd);
        bool ok = out && strlen(out) == strlen(setting) &&
                  CRYPTO_memcmp(out, setting, strlen(setting)) == 0;

        explicit_bzero(cd, sizeof *cd);
        return ok && j->user >= 0;
}

static void *worker_main(void *userdata) {
        struct basic_auth *a = userdata;
        struct crypt_data *cd = calloc(1, sizeof *cd);

        pthread_mutex_lock(&a->lock);
        while (cd) {
                struct job *j;

                while (!a->quit && a->n_queue == 0)
                        pthread_cond_wait(&a->wake, &a->lock);
                if (a->quit)
                        break;
                j = a->queue[0];
                memmove(a->queue, a->queue + 1, --a->n_queue * sizeof *a->queue);
                pthread_mutex_unlock(&a->lock);
                j->ok = verify(a, j, cd);
                erase_free(TAKE_PTR(j->password), j->password_len);
                pthread_mutex_lock(&a->lock);
                a->done[a->n_done++] = j;
                (void)eventfd_write(a->efd, 1);
        }
        pthread_mutex_unlock(&a->lock);
        free(cd);
        return NULL;
}

/* ---- the loop ---- */

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct basic_auth *a = userdata;
        struct job *done[BASIC_AUTH_JOBS_MAX];
        eventfd_t v;
        size_t n;

        (void)s, (void)revents;
        (void)eventfd_read(fd, &v);
        pthread_mutex_lock(&a->lock);
        n = a->n_done;
        memcpy(done, a->done, n * sizeof *done);
        a->n_done = 0;
        pthread_mutex_unlock(&a->lock);
        for (size_t i = 0; i < n; i++) {
                if (done[i]->ok)
                        cache_add(a, done[i]->user, done[i]->digest);
                a->in_flight--;
                a->done_fn(done[i]->cookie, done[i]->ok, a->userdata);
                job_free(done[i]);
        }
        return 0;
}

/* Hand a check to the worker; the job's password is a copy of pass. */
static enum basic_auth_result submit(struct basic_auth *a, int user, const char *pass, size_t len,
                                     const uint8_t d[static DIGEST], void *cookie) {
        struct job *j;

        if (a->in_flight >= BASIC_AUTH_JOBS_MAX)
                return BASIC_AUTH_BUSY;
        j = calloc(1, sizeof *j);
        if (!j || !(j->password = malloc(len + 1))) {
                free(j);
                return BASIC_AUTH_BUSY;
        }
        memcpy(j->password, pass, len);
        j->password[len] = 0;
        j->password_len = len + 1;
        j->user = user;
        j->cookie = cookie;
        memcpy(j->digest, d, DIGEST);
        a->in_flight++;
        pthread_mutex_lock(&a->lock);
        a->queue[a->n_queue++] = j;
        pthread_cond_signal(&a->wake);
        pthread_mutex_unlock(&a->lock);
        return BASIC_AUTH_PENDING;
}

enum basic_auth_result basic_auth_check(struct basic_auth *a, const char *authorization,
                                        void *cookie) {
        char buf[BASIC_AUTH_DECODED_MAX];
        enum basic_auth_result res = BASIC_AUTH_DENIED;
        uint8_t d[DIGEST];
        int n = basic_auth_decode(authorization, buf);
        const char *colon = n > 0 ? memchr(buf, ':', (size_t)n) : NULL;

        /* A NUL would end the password crypt() sees: "right\0junk" is not
         * the right password. */
        if (colon && !memchr(colon + 1, 0, (size_t)(buf + n - colon - 1))) {
                const char *pass = colon + 1;
                size_t len = (size_t)(buf + n - pass);
                int user = find_user(a, buf, (size_t)(colon - buf));

                digest(a, &user, sizeof user, pass, len, d);
                if (user >= 0 && cache_has(a, user, d))
                        res = BASIC_AUTH_OK;
                else
                        res = submit(a, user, pass, len, d, cookie);
        }
        explicit_bzero(buf, sizeof buf);
        explicit_bzero(d, sizeof d);
        return res;
}

static int copy_users(struct basic_auth *a, const struct webconfig_user *users, size_t n,
                      unsigned *ret_cost) {
        a->users = calloc(n, sizeof *a->users);
        if (!a->users)
                return -ENOMEM;
        *ret_cost = WEBCONFIG_BCRYPT_COST_MIN;
        for (size_t i = 0; i < n; i++, a->n_users++) {
                struct user *u = &a->users[i];
                if (!(u->name = strdup(users[i].name)) || !(u->hash = strdup(users[i].hash))) {
                        u->name = mfree(u->name);
                        return -ENOMEM;
                }
                digest(a, u->name, strlen(u->name), "", 0, u->name_digest);
                if (users[i].cost > *ret_cost)
                        *ret_cost = users[i].cost;
        }
        return 0;
}

/* The worker gets no signal: they are the loop's (signalfd). */
static int start_worker(struct basic_auth *a) {
        sigset_t all, old;
        int r;

        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = pthread_create(&a->worker, NULL, worker_main, a);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0)
                return -r;
        a->have_worker = true;
        return 0;
}

int basic_auth_new(struct basic_auth **ret, sd_event *event, const struct webconfig_user *users,
                   size_t n_users, basic_auth_done_fn done, void *userdata) {
        _cleanup_(basic_auth_freep) struct basic_auth *a = calloc(1, sizeof *a);
        unsigned cost;
        int r;

        if (!a)
                return -ENOMEM;
        a->efd = -EBADF;
        pthread_mutex_init(&a->lock, NULL);
        pthread_cond_init(&a->wake, NULL);
        a->done_fn = done;
        a->userdata = userdata;
        if (getrandom(a->key, sizeof a->key, 0) != (ssize_t)sizeof a->key)
                return -errno;
        r = copy_users(a, users, n_users, &cost);
        if (r < 0)
                return r;
        if (!crypt_gensalt_rn("$2b$", cost, NULL, 0, a->decoy, sizeof a->decoy))
                return -errno;
        a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (a->efd < 0)
                return -errno;
        r = sd_event_add_io(event, &a->io, a->efd, EPOLLIN, on_done, a);
        if (r < 0)
                return r;
        r = start_worker(a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

struct basic_auth *basic_auth_free(struct basic_auth *a) {
        if (!a)
                return NULL;
        if (a->have_worker) {
                pthread_mutex_lock(&a->lock);
                a->quit = true;
                pthread_cond_signal(&a->wake);
                pthread_mutex_unlock(&a->lock);
                pthread_join(a->worker, NULL);
        }
        for (size_t i = 0; i < a->n_queue; i++)
                job_free(a->queue[i]);
        for (size_t i = 0; i < a->n_done; i++)
                job_free(a->done[i]);
        sd_event_source_disable_unref(a->io);
        if (a->efd >= 0)
                close(a->efd);
        for (size_t i = 0; i < a->n_users; i++) {
                free(a->users[i].name);
                erase_and_free(a->users[i].hash);
        }
        free(a->users);
        pthread_cond_destroy(&a->wake);
        pthread_mutex_destroy(&a->lock);
        explicit_bzero(a, sizeof *a);
        free(a);
        return NULL;
}
