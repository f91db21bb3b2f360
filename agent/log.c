/* log.c: journal or stderr logging with a level filter.  Never allocates on
 * the error path beyond one formatting buffer; never fails the caller. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "errors.h"
#include "escape.h"
#include "log.h"

static int max_level = LOG_INFO;
static int use_journal = 0;
static int forced_stderr = 0;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

/* $JOURNAL_STREAM is "device:inode" of the stream systemd connected to our
 * stderr; when it still matches, the journal is listening. */
static int stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_open(void) {
        use_journal = !forced_stderr && stderr_is_journal();
}

void log_force_stderr(int on) {
        forced_stderr = on;
        if (on)
                use_journal = 0;
}

static const char *prefix(int level) {
        switch (level) {
        case LOG_DEBUG:
                return "debug";
        case LOG_INFO:
                return "info";
        case LOG_NOTICE:
                return "notice";
        case LOG_WARNING:
                return "warn";
        case LOG_ERR:
                return "error";
        default:
                return "crit";
        }
}

_printf_(7, 0) static int emit(int level, int error, const char *file, int line, const char *func,
                               const char *const *fields, const char *format, va_list ap) {
        int saved = errno;
        char raw[2048], msg[4096];

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        errno = error; /* for %m */
        vsnprintf(raw, sizeof raw, format, ap);
        /* Text from IMDS, ECS, the agent or a hook may be in the message: a
         * control character in it must not start a forged line. */
        escape_controls(msg, sizeof msg, raw);

        if (use_journal) {
                struct iovec iov[32];
                char ident[] = "SYSLOG_IDENTIFIER=ecs-hostd";
                char pri[32], cf[512], cl[32], fn[256], er[32], m[4200];
                size_t n = 0;

                snprintf(m, sizeof m, "MESSAGE=%s", msg);
                snprintf(pri, sizeof pri, "PRIORITY=%d", level);
                snprintf(cf, sizeof cf, "CODE_FILE=%s", file);
                snprintf(cl, sizeof cl, "CODE_LINE=%d", line);
                snprintf(fn, sizeof fn, "CODE_FUNC=%s", func);
                iov[n++] = (struct iovec){m, strlen(m)};
                iov[n++] = (struct iovec){pri, strlen(pri)};
                iov[n++] = (struct iovec){cf, strlen(cf)};
                iov[n++] = (struct iovec){cl, strlen(cl)};
                iov[n++] = (struct iovec){fn, strlen(fn)};
                iov[n++] = (struct iovec){ident, strlen(ident)};
                if (error) {
                        snprintf(er, sizeof er, "ERRNO=%d", error);
                        iov[n++] = (struct iovec){er, strlen(er)};
                }
                for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(iov); i++)
                        /* sd_journal_sendv only reads; iovec just lacks const */
                        iov[n++] = (struct iovec){(void *)(uintptr_t)fields[i], strlen(fields[i])};
                if (sd_journal_sendv(iov, (int)n) >= 0)
                        goto out;
                /* fall through to stderr when the journal refuses */
        }
        fprintf(stderr, "ecs-hostd[%s]: %s\n", prefix(level), msg);
out:
        errno = saved;
        return -error;
}

int log_internalv(int level, int error, const char *file, int line, const char *func,
                  const char *format, va_list ap) {
        return emit(level, error, file, line, func, NULL, format, ap);
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = emit(level, error, file, line, func, NULL, format, ap);
        va_end(ap);
        return r;
}

int log_struct_internal(int level, int error, const char *file, int line, const char *func,
                        const char *const *fields, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = emit(level, error, file, line, func, fields, format, ap);
        va_end(ap);
        return r;
}

void log_errors(int level, const struct errors *e) {
        for (size_t i = 0; e && i < e->n; i++) {
                _cleanup_free_ char *line = error_format(&e->v[i]);
                log_full_errno(level, 0, "%s", line ? line : e->v[i].message);
        }
}
