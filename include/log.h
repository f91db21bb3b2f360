/* log.h: the daemon's one log API.  Under systemd messages go to the journal
 * with structured fields (PRIORITY, CODE_*, ERRNO, plus any "KEY=value" pairs
 * given to log_struct); otherwise to stderr with a level prefix.  Library-like
 * modules (sigv4, parsers, placement) never log; the daemon logs where it
 * decides what to do. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "errors.h"
#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);

/* Decide the target: the journal when stderr is connected to it
 * ($JOURNAL_STREAM matches stderr), stderr otherwise.  Tests force stderr. */
void log_open(void);
void log_force_stderr(int on);

/* Returns -abs(error) (or 0 when error is 0) so callers can write
 * `return log_error_errno(r, "Failed to ...: %m");`.  %m expands to
 * strerror(abs(error)). */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);
int log_internalv(int level, int error, const char *file, int line, const char *func,
                  const char *format, va_list ap) _printf_(6, 0);

/* Like log_internal, with extra journal fields: a NULL-terminated list of
 * "KEY=value" strings that follow the message.  On stderr they are omitted. */
int log_struct_internal(int level, int error, const char *file, int line, const char *func,
                        const char *const *fields, const char *format, ...) _printf_(7, 8);

/* Log each error on its own line at level, as errors_print() prints it. */
void log_errors(int level, const struct errors *e);

#define log_full_errno(level, error, ...)                                                          \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warn(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_crit(...) log_full_errno(LOG_CRIT, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warn_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_crit_errno(e, ...) log_full_errno(LOG_CRIT, (e), __VA_ARGS__)

#define log_struct(level, fields, ...)                                                             \
        log_struct_internal((level), 0, __FILE__, __LINE__, __func__, (fields), __VA_ARGS__)
