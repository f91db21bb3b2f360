/* test-notice.c: the IMDS interruption-signal parsers on the bodies AWS
 * documents and amazon-ec2-metadata-mock (AEMM) serves, on odd but usable
 * bodies, and on garbage, whose messages are checked word for word.  Expected
 * epoch values were computed independently (Python's calendar.timegm). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "notice.h"
#include "test.h"

/* A test name from an input: control characters would break the TAP line. */
static const char *label(const char *prefix, const char *s) {
        static char buf[160];
        size_t k = (size_t)snprintf(buf, sizeof buf, "%s: ", prefix);

        for (; *s && k + 3 < sizeof buf; s++)
                if ((unsigned char)*s < 0x20) {
                        buf[k++] = '\\';
                        buf[k++] = *s == '\n' ? 'n' : *s == '\r' ? 'r' : '?';
                } else
                        buf[k++] = *s;
        buf[k] = '\0';
        return buf;
}

/* Parse one body with the parser for its path; the notice or the error. */
struct one {
        int r;
        struct notice n;
        char *error;
};

static struct one spot(const char *body) {
        struct one o = {};
        o.r = notice_parse_spot_action(body, strlen(body), &o.n, &o.error);
        return o;
}
static struct one termination(const char *body) {
        struct one o = {};
        o.r = notice_parse_termination_time(body, strlen(body), &o.n, &o.error);
        return o;
}
static struct one rebalance(const char *body) {
        struct one o = {};
        o.r = notice_parse_rebalance(body, strlen(body), &o.n, &o.error);
        return o;
}
static void one_done(struct one *o) {
        notice_done(&o->n);
        free(o->error);
        *o = (struct one){};
}

/* The parse failed with -EINVAL and exactly this message, and left the
 * notice untouched. */
static void check_error(const char *name, struct one o, const char *want) {
        CHECK_INTEQ(name, o.r, -EINVAL);
        CHECK_STREQ(name, o.error, want);
        CHECK(name, !o.n.id && !o.n.action);
        one_done(&o);
}

struct list {
        int r;
        struct notice *v;
        size_t n;
        char *error;
};
static struct list maintenance(const char *body) {
        struct list l = {};
        l.r = notice_parse_maintenance(body, strlen(body), &l.v, &l.n, &l.error);
        return l;
}
static void list_done(struct list *l) {
        notice_list_free(l->v, l->n);
        free(l->error);
        *l = (struct list){};
}
static void check_maintenance_error(const char *name, const char *body, const char *want) {
        struct list l = maintenance(body);
        CHECK_INTEQ(name, l.r, -EINVAL);
        CHECK_STREQ(name, l.error, want);
        CHECK(name, !l.v && l.n == 0);
        list_done(&l);
}

static void test_kind_names(void) {
        CHECK_STREQ("kind name spot", notice_kind_name(NOTICE_SPOT), "spot");
        CHECK_STREQ("kind name rebalance", notice_kind_name(NOTICE_REBALANCE), "rebalance");
        CHECK_STREQ("kind name asg", notice_kind_name(NOTICE_ASG), "asg");
        CHECK_STREQ("kind name maintenance", notice_kind_name(NOTICE_MAINTENANCE), "maintenance");
        CHECK_STREQ("kind name out of range", notice_kind_name((enum notice_kind)42), "unknown");
}

static void test_iso_time(void) {
        static const struct {
                const char *s;
                time_t want;
        } good[] = {
                {"2017-09-18T08:22:00Z", 1505722920},
                {"2017-09-18T08:22:00.000Z", 1505722920},       /* fractional seconds */
                {"2017-09-18T08:22:00.123456789Z", 1505722920}, /* truncated to the second */
                {"2017-09-18T08:22:00+00:00", 1505722920},
                {"2017-09-18T10:22:00+02:00", 1505722920}, /* an offset is applied */
                {"2017-09-18T06:22:00-0200", 1505722920},
                {"2017-09-18T08:22:00z", 1505722920},
                {" 2017-09-18T08:22:00Z\n", 1505722920}, /* whitespace around */
                {"2024-02-29T23:59:59Z", 1709251199},    /* leap day */
                {"1970-01-01T00:00:00Z", 0},
                {"9999-12-31T23:59:59Z", 253402300799},
        };
        static const char *const bad[] = {
                "",
                "now",
                "2017-09-18T08:22:00",       /* no zone: a local time would be a guess */
                "2017-09-18 08:22:00Z",      /* not ISO 8601's T */
                "2017-09-18T08:22Z",         /* no seconds */
                "2017-02-30T08:22:00Z",      /* 30 February */
                "2017-09-31T08:22:00Z",      /* 31 September */
                "2017-13-18T08:22:00Z",      /* month 13 */
                "2017-09-18T24:00:00Z",      /* hour 24 */
                "2016-12-31T23:59:60Z",      /* a leap second: AWS never sends one */
                "2017-09-18T08:22:00.Z",     /* a dot without digits */
                "2017-09-18T08:22:00Zjunk",  /* trailing garbage */
                "2017-09-18T08:22:00+25:00", /* no such offset */
                "2017-09-18T08:22:00+02",    /* half an offset */
                "1969-12-31T23:59:59Z",      /* before the epoch */
                "17-09-18T08:22:00Z",        /* a two-digit year */
                "1505722920",                /* epoch seconds are not ISO 8601 */
        };
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
                time_t t = -1;
                CHECK_INTEQ(label("iso time", good[i].s), notice_parse_iso_time(good[i].s, &t), 0);
                CHECK_INTEQ(label("value", good[i].s), t, good[i].want);
        }
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                time_t t = 12345;
                CHECK_INTEQ(label("not an iso time", bad[i]), notice_parse_iso_time(bad[i], &t),
                            -EINVAL);
                CHECK_INTEQ("a failed parse leaves the time alone", t, 12345);
        }
        CHECK_INTEQ("iso time NULL", notice_parse_iso_time(NULL, &(time_t){0}), -EINVAL);
}

static void test_maintenance_time(void) {
        static const struct {
                const char *s;
                time_t want;
        } good[] = {
                {"21 Jan 2019 09:00:43 GMT", 1548061243}, /* the EC2 User Guide's example */
                {"21 Jan 2019 09:17:23 GMT", 1548062243},
                {"1 Feb 2019 09:00:43 GMT", 1549011643}, /* Go's "2 Jan" layout: no padding */
                {"01 Feb 2019 09:00:43 GMT", 1549011643},
                {"1 FEB 2019 09:00:43 GMT", 1549011643},     /* month names in any case */
                {" 21 Jan 2019 09:00:43 GMT\n", 1548061243}, /* whitespace around */
                {"21 Jan 2019 09:00:43 UTC", 1548061243},
                {"29 Feb 2024 23:59:59 GMT", 1709251199},
        };
        static const char *const bad[] = {
                "",
                "2019-01-21T09:00:43Z", /* the ISO form is not this path's */
                "21 Jan 2019 09:00:43", /* no zone */
                "21 Jan 2019 09:00:43 CET",
                "21 Janvier 2019 09:00:43 GMT",
                "21 Jnu 2019 09:00:43 GMT",
                "32 Jan 2019 09:00:43 GMT",
                "29 Feb 2019 09:00:43 GMT", /* not a leap year */
                "0 Jan 2019 09:00:43 GMT",
                "21 Jan 19 09:00:43 GMT",
                "21 Jan 2019 9:00 GMT",
                "21 Jan 2019 09:00:43 GMT and more",
                "Mon, 21 Jan 2019 09:00:43 GMT", /* RFC 1123 is not what IMDS sends */
                "123 Jan 2019 09:00:43 GMT",
        };
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
                time_t t = -1;
                CHECK_INTEQ(label("maintenance time", good[i].s),
                            notice_parse_maintenance_time(good[i].s, &t), 0);
                CHECK_INTEQ(label("value", good[i].s), t, good[i].want);
        }
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                time_t t = 12345;
                CHECK_INTEQ(label("not a maintenance time", bad[i]),
                            notice_parse_maintenance_time(bad[i], &t), -EINVAL);
                CHECK_INTEQ("a failed parse leaves the time alone", t, 12345);
        }
}

static void test_format_iso_time(void) {
        char buf[32];

        CHECK_INTEQ("format", notice_format_iso_time(1505722920, buf, sizeof buf), 0);
        CHECK_STREQ("format", buf, "2017-09-18T08:22:00Z");
        CHECK_INTEQ("format too small", notice_format_iso_time(0, buf, 20), -ERANGE);
        CHECK_INTEQ("format negative", notice_format_iso_time(-1, buf, sizeof buf), -ERANGE);
}

static void test_spot_action(void) {
        struct one o;

        /* The EC2 User Guide's example. */
        o = spot("{\"action\": \"stop\", \"time\": \"2017-09-18T08:22:00Z\"}");
        CHECK_INTEQ("spot stop parses", o.r, 0);
        CHECK_INTEQ("spot stop kind", o.n.kind, NOTICE_SPOT);
        CHECK_STREQ("spot stop action", o.n.action, "stop");
        CHECK_INTEQ("spot stop time", o.n.time, 1505722920);
        CHECK_STREQ("spot stop id", o.n.id, "spot/stop/2017-09-18T08:22:00Z");
        CHECK("spot stop no warning", !o.n.warning && !o.n.event_id && !o.n.description);
        CHECK("spot stop no error", !o.error);
        one_done(&o);

        /* AEMM's default: terminate, two minutes ahead, as Go's RFC 3339
         * formats it; a future time is returned as it is. */
        o = spot("{\"action\":\"terminate\",\"time\":\"2030-06-01T00:00:00Z\"}\n");
        CHECK_INTEQ("spot terminate (AEMM form) parses", o.r, 0);
        CHECK_STREQ("spot terminate action", o.n.action, "terminate");
        CHECK_INTEQ("spot future time kept", o.n.time, 1906502400);
        CHECK_STREQ("spot terminate id", o.n.id, "spot/terminate/2030-06-01T00:00:00Z");
        one_done(&o);

        /* Hibernation starts at once: the time is usually already past, and
         * the parser does not judge that. */
        o = spot("{ \"action\" : \"hibernate\" , \"time\" : \"2015-01-05T18:02:00Z\" }");
        CHECK_INTEQ("spot hibernate parses", o.r, 0);
        CHECK_STREQ("spot hibernate action", o.n.action, "hibernate");
        CHECK_INTEQ("spot past time kept", o.n.time, 1420480920);
        one_done(&o);

        /* Extra members are ignored; fractional seconds and offsets are
         * normalized, so the id is stable. */
        o = spot("{\"time\":\"2017-09-18T10:22:00.5+02:00\",\"action\":\"terminate\",\"x\":[1]}");
        CHECK_INTEQ("spot with extras parses", o.r, 0);
        CHECK_STREQ("spot id normalized", o.n.id, "spot/terminate/2017-09-18T08:22:00Z");
        one_done(&o);

        /* An unknown action drains like terminate, with a warning. */
        o = spot("{\"action\": \"reboot\", \"time\": \"2017-09-18T08:22:00Z\"}");
        CHECK_INTEQ("spot unknown action parses", o.r, 0);
        CHECK_STREQ("spot unknown action taken as terminate", o.n.action, "terminate");
        CHECK_STREQ("spot unknown action warning", o.n.warning,
                    "spot/instance-action: unknown action \"reboot\", taken as terminate");
        CHECK_STREQ("spot unknown action id", o.n.id, "spot/terminate/2017-09-18T08:22:00Z");
        one_done(&o);

        o = spot("{\"action\": \"Terminate\", \"time\": \"2017-09-18T08:22:00Z\"}");
        CHECK_STREQ("spot mis-cased action warned", o.n.warning,
                    "spot/instance-action: unknown action \"Terminate\", taken as terminate");
        one_done(&o);

        o = spot("{\"action\": \"\", \"time\": \"2017-09-18T08:22:00Z\"}");
        CHECK_STREQ("spot empty action warned", o.n.warning,
                    "spot/instance-action: unknown action \"\", taken as terminate");
        one_done(&o);

        /* A long, odd action is quoted, escaped and cut at 64 bytes. */
        o = spot("{\"action\": \"\\n\\\"0123456789012345678901234567890123456789012345678901234567"
                 "890123456789\", \"time\": \"2017-09-18T08:22:00Z\"}");
        CHECK_STREQ("spot long action quoted and cut", o.n.warning,
                    "spot/instance-action: unknown action "
                    "\"\\x0a\\\"01234567890123456789012345678901234567890123456789012345678901\"..."
                    ", taken as terminate");
        one_done(&o);

        /* Garbage. */
        check_error("spot garbage", spot("<html>502 Bad Gateway</html>"),
                    "spot/instance-action: not a JSON object");
        check_error("spot empty body", spot(""), "spot/instance-action: not a JSON object");
        check_error("spot truncated", spot("{\"action\": \"terminate\", \"time\": \"2017-09"),
                    "spot/instance-action: not a JSON object");
        check_error("spot array", spot("[{\"action\": \"terminate\"}]"),
                    "spot/instance-action: not a JSON object");
        check_error("spot trailing garbage",
                    spot("{\"action\":\"stop\",\"time\":\"2017-09-18T08:22:00Z\"} {}"),
                    "spot/instance-action: not a JSON object");
        check_error("spot no action", spot("{\"time\": \"2017-09-18T08:22:00Z\"}"),
                    "spot/instance-action: \"action\" is missing");
        check_error("spot null action",
                    spot("{\"action\": null, \"time\": \"2017-09-18T08:22:00Z\"}"),
                    "spot/instance-action: \"action\" is missing");
        check_error("spot numeric action",
                    spot("{\"action\": 1, \"time\": \"2017-09-18T08:22:00Z\"}"),
                    "spot/instance-action: \"action\" is not a string");
        check_error("spot no time", spot("{\"action\": \"terminate\"}"),
                    "spot/instance-action: \"time\" is missing");
        check_error("spot numeric time", spot("{\"action\": \"terminate\", \"time\": 1505722920}"),
                    "spot/instance-action: \"time\" is not a string");
        check_error("spot bad time", spot("{\"action\": \"terminate\", \"time\": \"soon\"}"),
                    "spot/instance-action: \"time\" is not an ISO 8601 time");
        check_error("spot local time",
                    spot("{\"action\": \"terminate\", \"time\": \"2017-09-18T08:22:00\"}"),
                    "spot/instance-action: \"time\" is not an ISO 8601 time");

        /* A NUL byte inside: cJSON would stop there and accept the prefix. */
        {
                static const char body[] =
                        "{\"action\":\"stop\",\"time\":\"2017-09-18T08:22:00Z\"}\0junk";
                struct one x = {};
                x.r = notice_parse_spot_action(body, sizeof body - 1, &x.n, &x.error);
                check_error("spot NUL byte", x, "spot/instance-action: not a JSON object");
        }
        /* The length is honoured: the body need not be NUL-terminated. */
        {
                static const char body[] =
                        "{\"action\":\"stop\",\"time\":\"2017-09-18T08:22:00Z\"}XYZ";
                struct one x = {};
                x.r = notice_parse_spot_action(body, sizeof body - 4, &x.n, &x.error);
                CHECK_INTEQ("spot body by length", x.r, 0);
                CHECK_STREQ("spot body by length id", x.n.id, "spot/stop/2017-09-18T08:22:00Z");
                one_done(&x);
        }
        /* No error pointer: still -EINVAL, no crash. */
        {
                struct notice n = {};
                CHECK_INTEQ("spot without error pointer",
                            notice_parse_spot_action("x", 1, &n, NULL), -EINVAL);
        }
}

static void test_spot_ids(void) {
        struct one a, b, c, d;

        /* The same notice, polled twice, formatted differently: one id. */
        a = spot("{\"action\": \"terminate\", \"time\": \"2026-11-22T12:02:00Z\"}");
        b = spot("{\"time\":\"2026-11-22T12:02:00.000Z\",\"action\":\"terminate\"}\n");
        CHECK_STREQ("spot id documented form", a.n.id, "spot/terminate/2026-11-22T12:02:00Z");
        CHECK_STREQ("spot id stable across polls", a.n.id, b.n.id);
        /* Another time or another action: another id. */
        c = spot("{\"action\": \"terminate\", \"time\": \"2026-11-22T12:04:00Z\"}");
        d = spot("{\"action\": \"stop\", \"time\": \"2026-11-22T12:02:00Z\"}");
        CHECK("spot id differs for another time", a.n.id && c.n.id && strcmp(a.n.id, c.n.id) != 0);
        CHECK("spot id differs for another action",
              a.n.id && d.n.id && strcmp(a.n.id, d.n.id) != 0);
        one_done(&a);
        one_done(&b);
        one_done(&c);
        one_done(&d);
}

static void test_termination_time(void) {
        struct one o, a;

        /* The User Guide's example; AEMM serves the same form, no newline. */
        o = termination("2015-01-05T18:02:00Z");
        CHECK_INTEQ("termination-time parses", o.r, 0);
        CHECK_INTEQ("termination-time kind", o.n.kind, NOTICE_SPOT);
        CHECK_STREQ("termination-time action", o.n.action, "terminate");
        CHECK_INTEQ("termination-time past time kept", o.n.time, 1420480920);
        CHECK_STREQ("termination-time id", o.n.id, "spot/terminate/2015-01-05T18:02:00Z");
        one_done(&o);

        o = termination("2030-06-01T00:00:00Z\n");
        CHECK_INTEQ("termination-time with newline parses", o.r, 0);
        CHECK_INTEQ("termination-time future time kept", o.n.time, 1906502400);
        /* One notice seen through both Spot paths has one id. */
        a = spot("{\"action\": \"terminate\", \"time\": \"2030-06-01T00:00:00Z\"}");
        CHECK_STREQ("termination-time id = instance-action terminate id", o.n.id, a.n.id);
        one_done(&o);
        one_done(&a);

        check_error("termination-time empty", termination(""), "spot/termination-time: empty");
        check_error("termination-time blank", termination(" \n"), "spot/termination-time: empty");
        /* AWS: after a failed termination the item may hold "a value that is
         * not a time". */
        check_error("termination-time not a time", termination("none\n"),
                    "spot/termination-time: not an ISO 8601 time: \"none\"");
        check_error("termination-time local time", termination("2018-08-18 12:05:33"),
                    "spot/termination-time: not an ISO 8601 time: \"2018-08-18 12:05:33\"");
        check_error("termination-time long garbage",
                    termination("<html><body>Service Unavailable. Please retry this request "
                                "later, it is a transient error</body></html>"),
                    "spot/termination-time: not an ISO 8601 time: "
                    "\"<html><body>Service Unavailable. Please retry this request later\"...");
        {
                static const char body[] = "2015-01-05T18:02:00Z\0";
                struct one x = {};
                x.r = notice_parse_termination_time(body, sizeof body - 1, &x.n, &x.error);
                check_error("termination-time NUL byte", x,
                            "spot/termination-time: not an ISO 8601 time: "
                            "\"2015-01-05T18:02:00Z\\x00\"");
        }
}

static void test_rebalance(void) {
        struct one o, b, c;

        /* The User Guide's example. */
        o = rebalance("{\"noticeTime\": \"2020-10-27T08:22:00Z\"}");
        CHECK_INTEQ("rebalance parses", o.r, 0);
        CHECK_INTEQ("rebalance kind", o.n.kind, NOTICE_REBALANCE);
        CHECK_STREQ("rebalance action", o.n.action, "rebalance");
        CHECK_INTEQ("rebalance time", o.n.time, 1603786920);
        CHECK_STREQ("rebalance id", o.n.id, "rebalance/2020-10-27T08:22:00Z");
        b = rebalance("{\"noticeTime\":\"2020-10-27T08:22:00.000Z\"}\n");
        CHECK_STREQ("rebalance id stable", o.n.id, b.n.id);
        c = rebalance("{\"noticeTime\":\"2020-10-27T09:22:00Z\"}");
        CHECK("rebalance id differs for another time",
              o.n.id && c.n.id && strcmp(o.n.id, c.n.id) != 0);
        one_done(&o);
        one_done(&b);
        one_done(&c);

        check_error("rebalance garbage", rebalance("noticeTime=2020-10-27T08:22:00Z"),
                    "events/recommendations/rebalance: not a JSON object");
        check_error("rebalance no time", rebalance("{}"),
                    "events/recommendations/rebalance: \"noticeTime\" is missing");
        check_error("rebalance misspelled", rebalance("{\"NoticeTime\": \"2020-10-27T08:22:00Z\"}"),
                    "events/recommendations/rebalance: \"noticeTime\" is missing");
        check_error("rebalance numeric time", rebalance("{\"noticeTime\": 1603786920}"),
                    "events/recommendations/rebalance: \"noticeTime\" is not a string");
        check_error("rebalance bad time",
                    rebalance("{\"noticeTime\": \"27 Oct 2020 08:22:00 GMT\"}"),
                    "events/recommendations/rebalance: \"noticeTime\" is not an ISO 8601 time");
}

static void test_asg(void) {
        static const char *const states[] = {
                "InService",         "Terminated",        "Standby",        "Detached",
                "Pending",           "Warmed:Pending",    "Warmed:Running", "Warmed:Stopped",
                "Warmed:Hibernated", "Warmed:Terminated",
        };
        static const struct {
                const char *body, *error;
        } junk[] = {
                {"", "autoscaling/target-lifecycle-state: empty"},
                {"\n", "autoscaling/target-lifecycle-state: empty"},
                {"terminated", "autoscaling/target-lifecycle-state: unknown state \"terminated\""},
                {"TERMINATED", "autoscaling/target-lifecycle-state: unknown state \"TERMINATED\""},
                {"Terminating:Wait",
                 "autoscaling/target-lifecycle-state: unknown state \"Terminating:Wait\""},
                {"InService\nTerminated",
                 "autoscaling/target-lifecycle-state: unknown state \"InService\\x0aTerminated\""},
                {"{\"state\": \"Terminated\"}",
                 "autoscaling/target-lifecycle-state: unknown state \"{\\\"state\\\": "
                 "\\\"Terminated\\\"}\""},
                {"Terminated!",
                 "autoscaling/target-lifecycle-state: unknown state \"Terminated!\""},
        };
        static char untouched[] = "untouched";
        char *s = NULL, *err = NULL;
        struct notice n = {}, m = {};

        for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
                CHECK_INTEQ(states[i],
                            notice_parse_asg_state(states[i], strlen(states[i]), &s, &err), 0);
                CHECK_STREQ(states[i], s, states[i]);
                free(s);
                s = NULL;
        }
        /* AEMM and IMDS may end the body with a newline. */
        CHECK_INTEQ("asg trailing newline", notice_parse_asg_state("Terminated\n", 11, &s, &err),
                    0);
        CHECK_STREQ("asg trailing newline", s, "Terminated");
        free(s);
        s = NULL;
        CHECK_INTEQ("asg CRLF", notice_parse_asg_state(" Terminated\r\n", 13, &s, &err), 0);
        CHECK_STREQ("asg CRLF", s, "Terminated");
        free(s);
        s = NULL;
        /* The length is honoured. */
        CHECK_INTEQ("asg by length", notice_parse_asg_state("TerminatedXX", 10, &s, &err), 0);
        CHECK_STREQ("asg by length", s, "Terminated");
        free(s);
        s = NULL;

        for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
                s = untouched;
                CHECK_INTEQ(label("junk asg state", junk[i].body),
                            notice_parse_asg_state(junk[i].body, strlen(junk[i].body), &s, &err),
                            -EINVAL);
                CHECK_STREQ(label("junk asg message", junk[i].body), err, junk[i].error);
                CHECK_STREQ("junk leaves the state alone", s, "untouched");
                free(err);
                err = NULL;
        }
        s = NULL;
        CHECK_INTEQ("asg NUL byte", notice_parse_asg_state("Terminated\0", 11, &s, &err), -EINVAL);
        CHECK_STREQ("asg NUL byte", err,
                    "autoscaling/target-lifecycle-state: unknown state \"Terminated\\x00\"");
        free(err);
        err = NULL;

        CHECK_INTEQ("asg notice", notice_from_asg_state("Terminated", &n), 0);
        CHECK_INTEQ("asg notice kind", n.kind, NOTICE_ASG);
        CHECK_STREQ("asg notice action", n.action, "Terminated");
        CHECK_INTEQ("asg notice time", n.time, 0);
        CHECK_STREQ("asg notice id", n.id, "asg/Terminated");
        CHECK_INTEQ("asg notice copy", notice_copy(&n, &m), 0);
        CHECK_STREQ("asg notice copy id", m.id, "asg/Terminated");
        CHECK("asg notice copy is deep", m.id != n.id && m.action != n.action);
        notice_done(&n);
        notice_done(&m);
        CHECK("notice_done clears", !m.id && !m.action);
        notice_done(NULL);
        notice_list_free(NULL, 3);
}

/* The EC2 User Guide's example, as IMDS serves it. */
static const char guide_example[] = "[ \n"
                                    "  {\n"
                                    "    \"NotBefore\" : \"21 Jan 2019 09:00:43 GMT\",\n"
                                    "    \"Code\" : \"system-reboot\",\n"
                                    "    \"Description\" : \"scheduled reboot\",\n"
                                    "    \"EventId\" : \"instance-event-0d59937288b749b32\",\n"
                                    "    \"NotAfter\" : \"21 Jan 2019 09:17:23 GMT\",\n"
                                    "    \"State\" : \"active\"\n"
                                    "  } \n"
                                    "]";

static void test_maintenance(void) {
        struct list l;

        l = maintenance(guide_example);
        CHECK_INTEQ("maintenance guide example parses", l.r, 0);
        CHECK_INTEQ("maintenance guide example has one notice", l.n, 1);
        if (l.n == 1) {
                CHECK_INTEQ("maintenance kind", l.v[0].kind, NOTICE_MAINTENANCE);
                CHECK_STREQ("maintenance action is the code", l.v[0].action, "system-reboot");
                CHECK_INTEQ("maintenance time is NotBefore", l.v[0].time, 1548061243);
                CHECK_STREQ("maintenance event id", l.v[0].event_id,
                            "instance-event-0d59937288b749b32");
                CHECK_STREQ("maintenance description", l.v[0].description, "scheduled reboot");
                CHECK_STREQ("maintenance id", l.v[0].id,
                            "maintenance/instance-event-0d59937288b749b32");
                CHECK("maintenance no warning", !l.v[0].warning);
        }
        list_done(&l);

        /* AEMM's default: one active system-reboot, NotBeforeDeadline too,
         * as Go formats "2 Jan 2006 15:04:05 GMT"; compact JSON. */
        l = maintenance("[{\"Code\":\"system-reboot\",\"Description\":\"The instance is scheduled "
                        "for system-reboot\",\"State\":\"active\",\"EventId\":\"instance-event-"
                        "1234567890abcdef0\",\"NotBefore\":\"1 Jun 2030 00:00:00 GMT\",\"NotAfter\""
                        ":\"8 Jun 2030 00:00:00 GMT\",\"NotBeforeDeadline\":\"10 Jun 2030 00:00:00 "
                        "GMT\"}]\n");
        CHECK_INTEQ("maintenance AEMM parses", l.r, 0);
        CHECK_INTEQ("maintenance AEMM one notice", l.n, 1);
        if (l.n == 1) {
                CHECK_INTEQ("maintenance AEMM future time", l.v[0].time, 1906502400);
                CHECK_STREQ("maintenance AEMM id", l.v[0].id,
                            "maintenance/instance-event-1234567890abcdef0");
        }
        list_done(&l);

        /* Older AEMMs serve the event without its list. */
        l = maintenance("{\"Code\":\"instance-stop\",\"State\":\"active\",\"EventId\":\"instance-"
                        "event-1\",\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"}");
        CHECK_INTEQ("maintenance lone object parses", l.r, 0);
        CHECK_INTEQ("maintenance lone object is one notice", l.n, 1);
        if (l.n == 1) {
                CHECK_STREQ("maintenance lone object code", l.v[0].action, "instance-stop");
                CHECK("maintenance without description", !l.v[0].description);
        }
        list_done(&l);

        /* Nothing scheduled. */
        l = maintenance("[]");
        CHECK("maintenance empty list", l.r == 0 && l.n == 0 && !l.v && !l.error);
        list_done(&l);
        l = maintenance(" [ ]\n");
        CHECK("maintenance empty list with whitespace", l.r == 0 && l.n == 0 && !l.v);
        list_done(&l);
        l = maintenance("");
        CHECK("maintenance empty body", l.r == 0 && l.n == 0 && !l.v);
        list_done(&l);

        /* Canceled and completed events are not notices, even garbled ones. */
        l = maintenance(
                "[{\"Code\":\"system-reboot\",\"Description\":\"[Canceled] scheduled reboot\","
                "\"State\":\"canceled\",\"EventId\":\"instance-event-1\",\"NotBefore\":\"21 "
                "Jan 2019 09:00:43 GMT\"},"
                "{\"Code\":\"instance-stop\",\"Description\":\"[Completed] stop\",\"State\":"
                "\"completed\",\"EventId\":\"instance-event-2\",\"NotBefore\":\"21 Jan 2019 "
                "09:00:43 GMT\"},"
                "{\"State\":\"completed\",\"NotBefore\":\"whenever\"}]");
        CHECK("maintenance canceled/completed ignored", l.r == 0 && l.n == 0 && !l.v);
        list_done(&l);

        /* Mixed: the active ones, in order; unknown code warned, kept. */
        l = maintenance(
                "[{\"Code\":\"instance-retirement\",\"State\":\"active\",\"EventId\":\"ev-a\","
                "\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"},"
                "{\"Code\":\"system-reboot\",\"State\":\"canceled\",\"EventId\":\"ev-b\","
                "\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"},"
                "{\"Code\":\"host-upgrade\",\"State\":\"active\",\"EventId\":\"ev-c\","
                "\"NotBefore\":\"1 Jun 2030 00:00:00 GMT\",\"NotAfter\":\"garbled\","
                "\"Description\":7}]");
        CHECK_INTEQ("maintenance mixed parses", l.r, 0);
        CHECK_INTEQ("maintenance mixed keeps the active two", l.n, 2);
        if (l.n == 2) {
                CHECK_STREQ("maintenance mixed first", l.v[0].id, "maintenance/ev-a");
                CHECK_STREQ("maintenance mixed second", l.v[1].id, "maintenance/ev-c");
                CHECK("maintenance known code not warned", !l.v[0].warning);
                CHECK_STREQ("maintenance unknown code warned", l.v[1].warning,
                            "events/maintenance/scheduled: event 3: unknown \"Code\" "
                            "\"host-upgrade\"");
                CHECK("maintenance non-string description dropped", !l.v[1].description);
                CHECK_INTEQ("maintenance garbled NotAfter does not hide the event", l.v[1].time,
                            1906502400);
        }
        list_done(&l);

        /* The same EventId twice: one notice, flagged. */
        l = maintenance("[{\"Code\":\"instance-stop\",\"State\":\"active\",\"EventId\":\"ev-a\","
                        "\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"},"
                        "{\"Code\":\"instance-stop\",\"State\":\"active\",\"EventId\":\"ev-a\","
                        "\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"}]");
        CHECK_INTEQ("maintenance repeated id parses", l.r, 0);
        CHECK_INTEQ("maintenance repeated id is one notice", l.n, 1);
        if (l.n == 1)
                CHECK_STREQ("maintenance repeated id warned", l.v[0].warning,
                            "events/maintenance/scheduled: event 2 repeats \"EventId\" \"ev-a\"; "
                            "ignored");
        list_done(&l);
}

static void test_maintenance_ids(void) {
        struct list a, b, c;

        /* The same event polled twice, reformatted: the same id.  Rescheduled
         * (same EventId, new NotBefore): the same id, the new time. */
        a = maintenance(guide_example);
        b = maintenance("[{\"State\":\"active\",\"EventId\":\"instance-event-0d59937288b749b32\","
                        "\"Code\":\"system-reboot\",\"NotBefore\":\"22 Jan 2019 09:00:43 GMT\"}]");
        c = maintenance("[{\"State\":\"active\",\"EventId\":\"instance-event-0aaaaaaaaaaaaaaaa\","
                        "\"Code\":\"system-reboot\",\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"}]");
        if (CHECK("maintenance ids parsed", a.n == 1 && b.n == 1 && c.n == 1)) {
                CHECK_STREQ("maintenance id stable", a.v[0].id, b.v[0].id);
                CHECK_INTEQ("maintenance rescheduled time", b.v[0].time - a.v[0].time, 86400);
                CHECK("maintenance id differs for another event",
                      strcmp(a.v[0].id, c.v[0].id) != 0);
        }
        list_done(&a);
        list_done(&b);
        list_done(&c);
}

static void test_maintenance_errors(void) {
        check_maintenance_error("maintenance garbage", "Service Unavailable",
                                "events/maintenance/scheduled: not a JSON array");
        check_maintenance_error("maintenance string", "\"[]\"",
                                "events/maintenance/scheduled: not a JSON array");
        check_maintenance_error("maintenance truncated",
                                "[{\"Code\":", "events/maintenance/scheduled: not a JSON array");
        check_maintenance_error("maintenance element not an object",
                                "[{\"State\":\"canceled\"}, 3]",
                                "events/maintenance/scheduled: event 2: not a JSON object");
        check_maintenance_error(
                "maintenance no state",
                "[{\"Code\":\"instance-stop\",\"EventId\":\"e\",\"NotBefore\":\"21 Jan "
                "2019 09:00:43 GMT\"}]",
                "events/maintenance/scheduled: event 1: \"State\" is missing");
        check_maintenance_error("maintenance numeric state", "[{\"State\": 1}]",
                                "events/maintenance/scheduled: event 1: \"State\" is not a string");
        check_maintenance_error(
                "maintenance unknown state", "[{\"State\":\"canceled\"},{\"State\":\"Active\"}]",
                "events/maintenance/scheduled: event 2: \"State\" \"Active\" is not "
                "active, canceled or completed");
        check_maintenance_error(
                "maintenance no code",
                "[{\"State\":\"active\",\"EventId\":\"e\",\"NotBefore\":\"21 Jan 2019 "
                "09:00:43 GMT\"}]",
                "events/maintenance/scheduled: event 1: \"Code\" is missing");
        check_maintenance_error(
                "maintenance odd code",
                "[{\"State\":\"active\",\"Code\":\"stop; rm -rf /\",\"EventId\":\"e\","
                "\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"}]",
                "events/maintenance/scheduled: event 1: \"Code\" \"stop; rm -rf /\" "
                "is not an event code");
        check_maintenance_error("maintenance empty code",
                                "[{\"State\":\"active\",\"Code\":\"\",\"EventId\":\"e\","
                                "\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"}]",
                                "events/maintenance/scheduled: event 1: \"Code\" \"\" is not an "
                                "event code");
        check_maintenance_error(
                "maintenance no event id",
                "[{\"State\":\"active\",\"Code\":\"instance-stop\",\"NotBefore\":\"21 "
                "Jan 2019 09:00:43 GMT\"}]",
                "events/maintenance/scheduled: event 1: \"EventId\" is missing");
        check_maintenance_error(
                "maintenance odd event id",
                "[{\"State\":\"active\",\"Code\":\"instance-stop\",\"EventId\":\"../e\","
                "\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"}]",
                "events/maintenance/scheduled: event 1: \"EventId\" \"../e\" is not "
                "an event id");
        check_maintenance_error(
                "maintenance numeric event id",
                "[{\"State\":\"active\",\"Code\":\"instance-stop\",\"EventId\":5,"
                "\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"}]",
                "events/maintenance/scheduled: event 1: \"EventId\" is not a string");
        check_maintenance_error(
                "maintenance no NotBefore",
                "[{\"State\":\"active\",\"Code\":\"instance-stop\",\"EventId\":\"e\"}]",
                "events/maintenance/scheduled: event 1: \"NotBefore\" is missing");
        check_maintenance_error(
                "maintenance numeric NotBefore",
                "[{\"State\":\"active\",\"Code\":\"instance-stop\",\"EventId\":\"e\","
                "\"NotBefore\":1548061243}]",
                "events/maintenance/scheduled: event 1: \"NotBefore\" is not a string");
        check_maintenance_error(
                "maintenance ISO NotBefore",
                "[{\"State\":\"canceled\"},{\"State\":\"active\",\"Code\":\"instance-"
                "stop\",\"EventId\":\"e\",\"NotBefore\":\"2019-01-21T09:00:43Z\"}]",
                "events/maintenance/scheduled: event 2: \"NotBefore\" is not a date "
                "like \"21 Jan 2019 09:00:43 GMT\"");
        /* One bad event fails the list: a half-read list is not the list. */
        check_maintenance_error(
                "maintenance bad event after a good one",
                "[{\"State\":\"active\",\"Code\":\"instance-stop\",\"EventId\":\"e\","
                "\"NotBefore\":\"21 Jan 2019 09:00:43 GMT\"},{\"State\":\"active\","
                "\"Code\":\"instance-stop\",\"EventId\":\"f\",\"NotBefore\":\"31 Feb "
                "2019 09:00:43 GMT\"}]",
                "events/maintenance/scheduled: event 2: \"NotBefore\" is not a date "
                "like \"21 Jan 2019 09:00:43 GMT\"");
        {
                static const char body[] = "[]\0[{\"State\":\"active\"}]";
                struct list l = {};
                l.r = notice_parse_maintenance(body, sizeof body - 1, &l.v, &l.n, &l.error);
                CHECK_INTEQ("maintenance NUL byte", l.r, -EINVAL);
                CHECK_STREQ("maintenance NUL byte", l.error,
                            "events/maintenance/scheduled: not a JSON array");
                list_done(&l);
        }
}

int main(void) {
        test_kind_names();
        test_iso_time();
        test_maintenance_time();
        test_format_iso_time();
        test_spot_action();
        test_spot_ids();
        test_termination_time();
        test_rebalance();
        test_asg();
        test_maintenance();
        test_maintenance_ids();
        test_maintenance_errors();
        return test_done();
}
