/* test-escape.c: how outside text appears in messages and log lines.  A
 * quoted value is cut and escaped; a whole log line keeps its text but no
 * control character, so a newline from IMDS, ECS or the official agent can
 * neither start a forged log line nor add a field to an sd_notify message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"
#include "macro.h"
#include "test.h"

static void test_quote(void) {
        char buf[ESCAPE_QUOTE_SIZE(8)];

        CHECK_STREQ("printable as is", escape_quote(buf, "abc", 3, 8, '"'), "\"abc\"");
        CHECK_STREQ("quote and backslash escaped", escape_quote(buf, "a\"\\b", 4, 8, '"'),
                    "\"a\\\"\\\\b\"");
        CHECK_STREQ("control characters and UTF-8 as \\xNN",
                    escape_quote(buf, "a\nb\x7f\xc3\xa9", 6, 8, '"'), "\"a\\x0ab\\x7f\\xc3\\xa9\"");
        CHECK_STREQ("cut after max bytes", escape_quote(buf, "0123456789", 10, 8, '"'),
                    "\"01234567\"...");
        CHECK_STREQ("another quote character", escape_quote(buf, "it's", 4, 8, '\''), "'it\\'s'");
}

static void test_controls(void) {
        char buf[64], small[7];

        CHECK_STREQ("a line keeps its text", escape_controls(buf, sizeof buf, "plain \"text\" é"),
                    "plain \"text\" é");
        CHECK_STREQ("a newline cannot add a notify field",
                    escape_controls(buf, sizeof buf, "ok\nWATCHDOG_USEC=1"),
                    "ok\\x0aWATCHDOG_USEC=1");
        CHECK_STREQ("CR, ESC, DEL, tab", escape_controls(buf, sizeof buf, "\r\x1b[31m\x7f\t"),
                    "\\x0d\\x1b[31m\\x7f\\x09");
        CHECK_STREQ("cut to fit, never in the middle of an escape",
                    escape_controls(small, sizeof small, "ab\ncd"), "ab\\x0a");
}

/* What the daemon's log writes on stderr for a message with a newline. */
static void test_log_line(void) {
        char path[] = "/tmp/test-escape-XXXXXX", text[512] = "";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        ssize_t n;

        if (fd < 0 || saved < 0)
                abort();
        log_force_stderr(1);
        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        log_info("agent ARN %s", "arn:x\necs-hostd[crit]: forged");
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        n = pread(fd, text, sizeof text - 1, 0);
        close(fd);
        unlink(path);
        text[n > 0 ? n : 0] = 0;
        CHECK_STREQ("a log line cannot be forged by a newline in outside text", text,
                    "ecs-hostd[info]: agent ARN arn:x\\x0aecs-hostd[crit]: forged\n");
}

static void test_utf8(void) {
        CHECK("ASCII and well-formed UTF-8 are valid",
              utf8_valid("") && utf8_valid("/mnt/caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7"));
        CHECK("a Latin-1 byte is not", !utf8_valid("/mnt/caf\xe9"));
        CHECK("a cut character is not", !utf8_valid("\xe2\x82"));
        CHECK("an overlong form is not", !utf8_valid("\xc0\xaf") && !utf8_valid("\xe0\x80\xaf"));
        CHECK("a surrogate is not", !utf8_valid("\xed\xa0\x80"));
        CHECK("beyond U+10FFFF is not", !utf8_valid("\xf4\x90\x80\x80"));
}

int main(void) {
        test_quote();
        test_controls();
        test_log_line();
        test_utf8();
        return test_done();
}
