/* test-config.c: the configuration module.  Every error class with its exact
 * message, the systemd-compatible syntax, precedence, defaults and masking.
 * Most cases are data: a file's text and the exact error output it gives. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "macro.h"
#include "test-errors.h"
#include "test.h"

/* Parse text as file "t.conf"; returns the printed errors (malloc'ed, "" when
 * none) and, when ret is given, the config. */
static char *parse(const char *text, size_t len, struct config **ret) {
        struct errors errs = {};
        struct config *c = NULL;
        char *out;

        if (config_new_empty(&c) < 0)
                abort();
        (void)config_parse_text(c, "t.conf", text, len, &errs);
        out = errors_text(&errs);
        errors_done(&errs);
        if (ret)
                *ret = c;
        else
                config_free(c);
        return out;
}

static void check_errors(const char *name, const char *text, const char *want) {
        _cleanup_free_ char *got = parse(text, strlen(text), NULL);
        CHECK_STREQ(name, got, want);
}

/* The value text gives key, or NULL (with the errors shown) on any error. */
static void check_value(const char *name, const char *text, enum config_key key, const char *want) {
        struct config *c = NULL;
        _cleanup_free_ char *errs = parse(text, strlen(text), &c);

        if (errs[0]) {
                printf("# unexpected errors: %s", errs);
                CHECK(name, false);
        } else
                CHECK_STREQ(name, config_string(c, key), want);
        config_free(c);
}

/* The ports of the metrics endpoint, which register mode reserves. */
static void test_listen_ports(void) {
        static const char text[] = "ECS_HOSTD_METRICS_LISTEN=127.0.0.1:9100, [::1]:9100,:51680\n";
        struct config *c = NULL;
        _cleanup_free_ char *errs = parse(text, strlen(text), &c);
        uint16_t p[CONFIG_LISTEN_MAX] = {};

        CHECK("three addresses",
              c && !errs[0] && config_listen_ports(c, KEY_ECS_HOSTD_METRICS_LISTEN, p) == 3 &&
                      p[0] == 9100 && p[1] == 9100 && p[2] == 51680);
        CHECK_INTEQ("a key that is not a listen list has none",
                    c ? config_listen_ports(c, KEY_ECS_CLUSTER, p) : 1, 0);
        config_free(c);
        c = NULL;
        free(errs);
        errs = parse("ECS_HOSTD_METRICS_LISTEN=off\n", 29, &c);
        CHECK_INTEQ("off: none", c ? config_listen_ports(c, KEY_ECS_HOSTD_METRICS_LISTEN, p) : 1,
                    0);
        config_free(c);
}

static void test_error_classes(void) {
        static const struct {
                const char *name, *text, *want;
        } cases[] = {
                {"line without '='", "ECS_CLUSTER\n",
                 "t.conf:1: missing '=' (expected KEY=VALUE)\n"},
                {"empty key", "  =x\n", "t.conf:1: missing key before '='\n"},
                {"invalid key characters", "ECS-CLUSTER=x\n",
                 "t.conf:1: invalid key: \"ECS\" is followed by '-'; a key is letters, digits "
                 "and '_', not starting with a digit (the rest of the line is not shown, as it "
                 "may hold a secret)\n"},
                {"key starting with a digit", "1ABC=x\n",
                 "t.conf:1: invalid key \"1ABC\": a key is letters, digits and '_', not starting "
                 "with a digit\n"},
                {"key with a blank inside", "ECS CLUSTER=x\n",
                 "t.conf:1: invalid key: \"ECS\" is followed by a blank; a '=' seems to be "
                 "missing after it (the rest of the line is not shown, as it may hold a "
                 "secret)\n"},
                /* A forgotten '=' and another one later on the line: the text
                 * before that '=' holds the secret, which is never shown. */
                {"'=' missing after a secret key", "AWS_SECRET_ACCESS_KEY wJalrXUtnFEMI # x=y\n",
                 "t.conf:1: invalid key: \"AWS_SECRET_ACCESS_KEY\" is followed by a blank; a "
                 "'=' seems to be missing after it (the rest of the line is not shown, as it "
                 "may hold a secret)\n"},
                {"':' instead of '=' after a secret key", "export AWS_SESSION_TOKEN:IQoJb3Jp==\n",
                 "t.conf:1: invalid key: \"AWS_SESSION_TOKEN\" is followed by ':'; a key is "
                 "letters, digits and '_', not starting with a digit (the rest of the line is "
                 "not shown, as it may hold a secret)\n"},
                {"a quoted assignment", "\"AWS_SECRET_ACCESS_KEY wJalrXUtnFEMI\"=x\n",
                 "t.conf:1: invalid key: it starts with '\"'; a key is letters, digits and '_', "
                 "not starting with a digit (the rest of the line is not shown, as it may hold "
                 "a secret)\n"},
                {"unterminated quote on a secret key", "AWS_SECRET_ACCESS_KEY=\"wJalrXUtnFEMI\n",
                 "t.conf:1: AWS_SECRET_ACCESS_KEY: unterminated quote: the \" at column 23 is "
                 "never closed\n"},
                {"text after the quote of a secret key", "AWS_SESSION_TOKEN='IQoJb3Jp' IQoJb3Jp\n",
                 "t.conf:1: AWS_SESSION_TOKEN: unexpected text after the closing quote at "
                 "column 30\n"},
                {"unterminated double quote", "ECS_CLUSTER=\"prod\n",
                 "t.conf:1: ECS_CLUSTER: unterminated quote: the \" at column 13 is never "
                 "closed\n"},
                {"unterminated single quote", "ECS_CLUSTER = 'prod\nECS_LOGLEVEL=info\n",
                 "t.conf:1: ECS_CLUSTER: unterminated quote: the ' at column 15 is never "
                 "closed\n"},
                {"unterminated quote at end of file", "ECS_CLUSTER='x",
                 "t.conf:1: ECS_CLUSTER: unterminated quote: the ' at column 13 is never "
                 "closed\n"},
                {"text after the closing quote", "ECS_CLUSTER='a' b\n",
                 "t.conf:1: ECS_CLUSTER: unexpected text after the closing quote at column 17\n"},
                {"unknown ECS_HOSTD_ key with a suggestion", "ECS_HOSTD_POLL_INTERVAL=200\n",
                 "t.conf:1: unknown key ECS_HOSTD_POLL_INTERVAL (did you mean "
                 "ECS_HOSTD_POLL_INTERVAL_MS?)\n"},
                {"unknown key suggests a shared key", "ECS_HOSTD_CLUSTER=x\n",
                 "t.conf:1: unknown key ECS_HOSTD_CLUSTER (did you mean ECS_CLUSTER?)\n"},
                {"lowercase key suggests its uppercase", "ecs_hostd_dry_run=true\n",
                 "t.conf:1: unknown key ecs_hostd_dry_run (did you mean ECS_HOSTD_DRY_RUN?)\n"},
                {"transposed letters", "ECS_HOSTD_UNDRIAN=true\n",
                 "t.conf:1: unknown key ECS_HOSTD_UNDRIAN (did you mean ECS_HOSTD_UNDRAIN?)\n"},
                {"unknown ECS_HOSTD_ key, nothing close", "ECS_HOSTD_FOO=1\n",
                 "t.conf:1: unknown key ECS_HOSTD_FOO\n"},
                {"other unknown keys are the official agent's",
                 "ECS_ENABLE_TASK_IAM_ROLE=true\n"
                 "SOMETHING_ELSE=1\n",
                 ""},
                {"bool", "ECS_HOSTD_DRY_RUN=yes\n",
                 "t.conf:1: ECS_HOSTD_DRY_RUN: \"yes\" is not a boolean (use true or false)\n"},
                {"integer", "ECS_HOSTD_POLL_INTERVAL_MS=fast\n",
                 "t.conf:1: ECS_HOSTD_POLL_INTERVAL_MS: \"fast\" is not an integer\n"},
                {"integer with a unit", "ECS_HOSTD_POLL_INTERVAL_MS=500ms\n",
                 "t.conf:1: ECS_HOSTD_POLL_INTERVAL_MS: \"500ms\" is not an integer\n"},
                {"integer below the minimum", "\n\n\n\n\n\nECS_HOSTD_POLL_INTERVAL_MS=50\n",
                 "t.conf:7: ECS_HOSTD_POLL_INTERVAL_MS: 50 is below the minimum 100\n"},
                {"integer above the maximum", "ECS_HOSTD_IMDS_TOKEN_TTL=21601\n",
                 "t.conf:1: ECS_HOSTD_IMDS_TOKEN_TTL: 21601 is above the maximum 21600\n"},
                {"negative integer", "ECS_RESERVED_MEMORY=-1\n",
                 "t.conf:1: ECS_RESERVED_MEMORY: -1 is below the minimum 0\n"},
                {"integer overflow", "ECS_RESERVED_MEMORY=99999999999999999999\n",
                 "t.conf:1: ECS_RESERVED_MEMORY: 99999999999999999999 is above the maximum "
                 "2147483647\n"},
                {"enum", "ECS_HOSTD_MODE=standalone\n",
                 "t.conf:1: ECS_HOSTD_MODE: \"standalone\" is not one of auto, register, "
                 "companion\n"},
                {"log level", "ECS_LOGLEVEL=verbose\n",
                 "t.conf:1: ECS_LOGLEVEL: \"verbose\" is not one of debug, info, warn, error, "
                 "crit\n"},
                {"URL scheme", "AWS_EC2_METADATA_SERVICE_ENDPOINT=ftp://169.254.169.254\n",
                 "t.conf:1: AWS_EC2_METADATA_SERVICE_ENDPOINT: \"ftp://169.254.169.254\" is not "
                 "an http:// or https:// URL\n"},
                {"URL without scheme", "ECS_AGENT_INTROSPECTION_URL=127.0.0.1:51678\n",
                 "t.conf:1: ECS_AGENT_INTROSPECTION_URL: \"127.0.0.1:51678\" is not an http:// or "
                 "https:// URL\n"},
                {"duration", "ECS_HOSTD_MAINTENANCE_LEAD=2 hours\n",
                 "t.conf:1: ECS_HOSTD_MAINTENANCE_LEAD: \"2 hours\" is not a duration (e.g. "
                 "500ms, 90s, 5m, 1h30m)\n"},
                {"duration above the maximum", "ECS_HOSTD_DRAIN_HOOK_TIMEOUT=2h\n",
                 "t.conf:1: ECS_HOSTD_DRAIN_HOOK_TIMEOUT: 2h is above the maximum 1h\n"},
                {"duration below the minimum", "ECS_HOSTD_DRAIN_HOOK_TIMEOUT=500ms\n",
                 "t.conf:1: ECS_HOSTD_DRAIN_HOOK_TIMEOUT: 500ms is below the minimum 1s\n"},
                {"list item", "ECS_HOSTD_DRAIN_ON=spot,termination\n",
                 "t.conf:1: ECS_HOSTD_DRAIN_ON: \"termination\" is not one of spot, rebalance, "
                 "asg, maintenance\n"},
                {"list empty item", "ECS_HOSTD_DRAIN_ON=spot,,asg\n",
                 "t.conf:1: ECS_HOSTD_DRAIN_ON: empty item in the list \"spot,,asg\"\n"},
                {"maintenance code", "ECS_HOSTD_DRAIN_MAINTENANCE_CODES=instance_stop\n",
                 "t.conf:1: ECS_HOSTD_DRAIN_MAINTENANCE_CODES: \"instance_stop\" is not one of "
                 "instance-stop, instance-retirement, instance-reboot, system-reboot, "
                 "system-maintenance\n"},
                {"ports", "ECS_RESERVED_PORTS=22,80\n",
                 "t.conf:1: ECS_RESERVED_PORTS: \"22,80\" is not a JSON array of port numbers "
                 "(e.g. [22, 2375])\n"},
                {"port out of range", "ECS_RESERVED_PORTS_UDP=[53, 65536]\n",
                 "t.conf:1: ECS_RESERVED_PORTS_UDP: \"[53, 65536]\" is not a JSON array of port "
                 "numbers (e.g. [22, 2375])\n"},
                {"JSON syntax", "ECS_CONTAINER_INSTANCE_TAGS={\"a\": \"b\",}\n",
                 "t.conf:1: ECS_CONTAINER_INSTANCE_TAGS: invalid JSON near character 12\n"},
                {"JSON trailing garbage", "ECS_CONTAINER_INSTANCE_TAGS={} x\n",
                 "t.conf:1: ECS_CONTAINER_INSTANCE_TAGS: invalid JSON near character 4\n"},
                {"JSON not an object", "ECS_CONTAINER_INSTANCE_TAGS=[\"a\"]\n",
                 "t.conf:1: ECS_CONTAINER_INSTANCE_TAGS: must be a JSON object of strings, e.g. "
                 "{\"name\": \"value\"}\n"},
                {"JSON value not a string",
                 "ECS_CONTAINER_INSTANCE_TAGS={\"a\": \"b\", \"n\": 1}\n",
                 "t.conf:1: ECS_CONTAINER_INSTANCE_TAGS: the value of \"n\" is not a string\n"},
                /* ECS_INSTANCE_ATTRIBUTES is text here; its owner checks ECS's rules
                 * (test-attrsync.c). */
                {"relative path", "ECS_HOSTD_DATADIR=var/lib/ecs-hostd\n",
                 "t.conf:1: ECS_HOSTD_DATADIR: \"var/lib/ecs-hostd\" is not an absolute path\n"},
                {"listen address", "ECS_HOSTD_METRICS_LISTEN=9466\n",
                 "t.conf:1: ECS_HOSTD_METRICS_LISTEN: \"9466\" is not HOST:PORT (e.g. "
                 "127.0.0.1:9466) or off\n"},
                {"listen port range", "ECS_HOSTD_METRICS_LISTEN=127.0.0.1:0\n",
                 "t.conf:1: ECS_HOSTD_METRICS_LISTEN: \"127.0.0.1:0\" is not HOST:PORT (e.g. "
                 "127.0.0.1:9466) or off\n"},
                {"one bad address in a list", "ECS_HOSTD_METRICS_LISTEN=127.0.0.1:1, [::1]:x\n",
                 "t.conf:1: ECS_HOSTD_METRICS_LISTEN: \"[::1]:x\" is not HOST:PORT (e.g. "
                 "127.0.0.1:9466) or off\n"},
                {"nine addresses", "ECS_HOSTD_METRICS_LISTEN=:1,:2,:3,:4,:5,:6,:7,:8,:9\n",
                 "t.conf:1: ECS_HOSTD_METRICS_LISTEN: \":1,:2,:3,:4,:5,:6,:7,:8,:9\": at most 8 "
                 "addresses\n"},
                {"a regular expression", "ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE=^(veth\n",
                 "t.conf:1: ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE: \"^(veth\" is not a regular "
                 "expression: missing closing parenthesis at offset 6\n"},
                {"region", "AWS_REGION=US East\n",
                 "t.conf:1: AWS_REGION: \"US East\" is not a region name (e.g. us-east-1)\n"},
                {"invalid UTF-8", "ECS_CLUSTER=caf\xe9\n",
                 "t.conf:1: ECS_CLUSTER: the value is not valid UTF-8\n"},
                {"control characters are escaped", "ECS_HOSTD_MODE=a\x01z\n",
                 "t.conf:1: ECS_HOSTD_MODE: \"a\\x01z\" is not one of auto, register, "
                 "companion\n"},
                {"a trailing # comment is part of the value",
                 "ECS_HOSTD_POLL_INTERVAL_MS=500 # half a second\n",
                 "t.conf:1: ECS_HOSTD_POLL_INTERVAL_MS: \"500 # half a second\" is not an integer "
                 "(a '#' after a value is part of the value, not a comment)\n"},
                {"every error is reported, in order",
                 "# ecs.config\n"
                 "ECS_CLUSTER=prod\n"
                 "ECS_HOSTD_POLL_INTERVAL_MS=50\n"
                 "garbage\n"
                 "ECS_HOSTD_MODE='x\n"
                 "ECS_HOSTD_DRYRUN=true\n"
                 "ECS_LOGLEVEL=info\n",
                 "t.conf:3: ECS_HOSTD_POLL_INTERVAL_MS: 50 is below the minimum 100\n"
                 "t.conf:4: missing '=' (expected KEY=VALUE)\n"
                 "t.conf:5: ECS_HOSTD_MODE: unterminated quote: the ' at column 16 is never "
                 "closed\n"
                 "t.conf:6: unknown key ECS_HOSTD_DRYRUN (did you mean ECS_HOSTD_DRY_RUN?)\n"},
                {"line numbers count continued lines", "ECS_CLUSTER=a\\\nb\nECS_HOSTD_MODE=x\n",
                 "t.conf:3: ECS_HOSTD_MODE: \"x\" is not one of auto, register, companion\n"},
                {"CRLF line ends", "ECS_CLUSTER=a\r\nECS_HOSTD_MODE=x\r\n",
                 "t.conf:2: ECS_HOSTD_MODE: \"x\" is not one of auto, register, companion\n"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_errors(cases[i].name, cases[i].text, cases[i].want);

        /* NUL bytes: text with an explicit length, as the fuzzer gives it. */
        {
                static const char t[] = "ECS_CLUSTER=a\0b\nECS_LOG\0LEVEL=info\nNO\0EQUALS\n";
                _cleanup_free_ char *got = parse(t, sizeof t - 1, NULL);
                CHECK_STREQ("NUL bytes", got,
                            "t.conf:1: the line contains a NUL byte\n"
                            "t.conf:2: the line contains a NUL byte\n"
                            "t.conf:3: the line contains a NUL byte\n");
        }
        /* A value too long to be a config value. */
        {
                size_t n = 70 * 1024;
                _cleanup_free_ char *t = malloc(n + 32), *got = NULL;
                int off = snprintf(t, 32, "ECS_CLUSTER=");
                memset(t + off, 'a', n);
                t[off + n] = 0;
                got = parse(t, strlen(t), NULL);
                CHECK_STREQ("value too long", got,
                            "t.conf:1: ECS_CLUSTER: the value is longer than 65536 bytes\n");
        }
}

static void test_syntax(void) {
        check_value("plain", "ECS_CLUSTER=prod\n", KEY_ECS_CLUSTER, "prod");
        check_value("no final newline", "ECS_CLUSTER=prod", KEY_ECS_CLUSTER, "prod");
        check_value("blanks around '=' and the value", "  ECS_CLUSTER \t=  prod  \n",
                    KEY_ECS_CLUSTER, "prod");
        check_value("export prefix", "export ECS_CLUSTER=prod\n", KEY_ECS_CLUSTER, "prod");
        check_value(
                "comments and blank lines",
                "# a comment\n; another\n   # indented\n\n\t\nECS_CLUSTER=prod\n# ECS_CLUSTER=x\n",
                KEY_ECS_CLUSTER, "prod");
        check_value("'#' inside a value", "ECS_CLUSTER=a#b # c\n", KEY_ECS_CLUSTER, "a#b # c");
        check_value("double quotes keep blanks", "ECS_CLUSTER=\" a b \"\n", KEY_ECS_CLUSTER,
                    " a b ");
        check_value("single quotes are literal", "ECS_CLUSTER='a\\\"$b'\n", KEY_ECS_CLUSTER,
                    "a\\\"$b");
        check_value("double-quote escapes as the shell", "ECS_CLUSTER=\"a\\\"b\\\\c\\d\\$\"\n",
                    KEY_ECS_CLUSTER, "a\"b\\c\\d$");
        check_value("quoted '#'", "ECS_CLUSTER=\"a # b\" \n", KEY_ECS_CLUSTER, "a # b");
        check_value("unquoted backslash escapes", "ECS_CLUSTER=a\\ b\\\\c\n", KEY_ECS_CLUSTER,
                    "a b\\c");
        check_value("escaped trailing blank kept", "ECS_CLUSTER=a\\ \n", KEY_ECS_CLUSTER, "a ");
        check_value("continuation line", "ECS_CLUSTER=ab\\\ncd\n", KEY_ECS_CLUSTER, "abcd");
        check_value("continuation inside double quotes", "ECS_CLUSTER=\"ab\\\ncd\"\n",
                    KEY_ECS_CLUSTER, "abcd");
        check_value("CRLF", "ECS_CLUSTER=prod\r\nECS_LOGLEVEL='warn'\r\n", KEY_ECS_CLUSTER, "prod");
        check_value("CRLF after a quote", "ECS_LOGLEVEL='warn'\r\n", KEY_ECS_LOGLEVEL, "warn");
        check_value("byte order mark",
                    "\xef\xbb\xbf"
                    "ECS_CLUSTER=prod\n",
                    KEY_ECS_CLUSTER, "prod");
        check_value("unquoted JSON", "ECS_INSTANCE_ATTRIBUTES={\"stack\": \"prod\"}\n",
                    KEY_ECS_INSTANCE_ATTRIBUTES, "{\"stack\": \"prod\"}");
        check_value("single-quoted JSON", "ECS_CONTAINER_INSTANCE_TAGS='{\"team\": \"a b\"}'\n",
                    KEY_ECS_CONTAINER_INSTANCE_TAGS, "{\"team\": \"a b\"}");
        check_value("duplicate key: last wins", "ECS_CLUSTER=a\nECS_CLUSTER=b\n", KEY_ECS_CLUSTER,
                    "b");
        check_value("empty value means the default", "ECS_CLUSTER=prod\nECS_CLUSTER=\n",
                    KEY_ECS_CLUSTER, "default");
        check_value("empty list is the empty list", "ECS_HOSTD_DRAIN_ON=\n", KEY_ECS_HOSTD_DRAIN_ON,
                    "");
        check_value("empty pattern is no pattern", "ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE=\n",
                    KEY_ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE, "");
        check_value("bool normalised", "ECS_HOSTD_DRY_RUN=TRUE\n", KEY_ECS_HOSTD_DRY_RUN, "true");
        check_value("bool 0", "ECS_HOSTD_UNDRAIN=0\n", KEY_ECS_HOSTD_UNDRAIN, "false");
        check_value("bool as Go's ParseBool", "ECS_ENABLE_SPOT_INSTANCE_DRAINING=F\n",
                    KEY_ECS_ENABLE_SPOT_INSTANCE_DRAINING, "false");
        check_value("enum normalised", "ECS_LOGLEVEL=DEBUG\n", KEY_ECS_LOGLEVEL, "debug");
        check_value("list normalised", "ECS_HOSTD_DRAIN_ON= spot , ASG,rebalance \n",
                    KEY_ECS_HOSTD_DRAIN_ON, "spot,asg,rebalance");
        check_value("bare backend host", "ECS_BACKEND_HOST=ecs.us-west-2.amazonaws.com\n",
                    KEY_ECS_BACKEND_HOST, "https://ecs.us-west-2.amazonaws.com");
        check_value("backend URL", "ECS_BACKEND_HOST=http://127.0.0.1:5000\n", KEY_ECS_BACKEND_HOST,
                    "http://127.0.0.1:5000");
        check_value("several addresses",
                    "ECS_HOSTD_METRICS_LISTEN= 127.0.0.1:51680 , [::1]:51680\n",
                    KEY_ECS_HOSTD_METRICS_LISTEN, "127.0.0.1:51680,[::1]:51680");
        check_value("off", "ECS_HOSTD_METRICS_LISTEN=OFF\n", KEY_ECS_HOSTD_METRICS_LISTEN, "off");
        check_value("IPv6 listen", "ECS_HOSTD_METRICS_LISTEN=[::1]:9466\n",
                    KEY_ECS_HOSTD_METRICS_LISTEN, "[::1]:9466");
        check_value("listen on all addresses", "ECS_HOSTD_METRICS_LISTEN=:9466\n",
                    KEY_ECS_HOSTD_METRICS_LISTEN, ":9466");
        check_value("ports", "ECS_RESERVED_PORTS=[22, 80]\n", KEY_ECS_RESERVED_PORTS, "[22, 80]");
        test_listen_ports();
        check_value("minimum accepted", "ECS_HOSTD_POLL_INTERVAL_MS=100\n",
                    KEY_ECS_HOSTD_POLL_INTERVAL_MS, "100");
}

static void test_getters(void) {
        struct config *c = NULL;
        _cleanup_free_ char *errs = NULL;
        _cleanup_free_ uint16_t *ports = NULL;
        size_t n = 0;
        static const char text[] = "ECS_HOSTD_MAINTENANCE_LEAD=1h30m\n"
                                   "ECS_HOSTD_DRAIN_HOOK_TIMEOUT=1500ms\n"
                                   "ECS_HOSTD_POLL_INTERVAL_MS=250\n"
                                   "ECS_HOSTD_DRAIN_ON=rebalance,spot\n"
                                   "ECS_RESERVED_PORTS_UDP=[53, 123]\n"
                                   "ECS_HOSTD_DRY_RUN=1\n";

        errs = parse(text, strlen(text), &c);
        CHECK_STREQ("getters: no errors", errs, "");
        CHECK_INTEQ("duration in ms", config_int(c, KEY_ECS_HOSTD_MAINTENANCE_LEAD), 5400000);
        CHECK_INTEQ("duration ms unit", config_int(c, KEY_ECS_HOSTD_DRAIN_HOOK_TIMEOUT), 1500);
        CHECK_INTEQ("integer", config_int(c, KEY_ECS_HOSTD_POLL_INTERVAL_MS), 250);
        CHECK_INTEQ("integer default", config_int(c, KEY_ECS_HOSTD_IMDS_TOKEN_TTL), 21600);
        CHECK("bool", config_bool(c, KEY_ECS_HOSTD_DRY_RUN));
        CHECK("bool default true", config_bool(c, KEY_ECS_HOSTD_UNDRAIN));
        CHECK("unset bool without default is false and NULL",
              !config_bool(c, KEY_ECS_ENABLE_SPOT_INSTANCE_DRAINING) &&
                      !config_string(c, KEY_ECS_ENABLE_SPOT_INSTANCE_DRAINING));
        CHECK("list contains", config_list_has(c, KEY_ECS_HOSTD_DRAIN_ON, "spot") &&
                                       config_list_has(c, KEY_ECS_HOSTD_DRAIN_ON, "rebalance"));
        CHECK_INTEQ("list bits", config_list(c, KEY_ECS_HOSTD_DRAIN_ON),
                    CONFIG_DRAIN_SPOT | CONFIG_DRAIN_REBALANCE);
        CHECK("list does not contain", !config_list_has(c, KEY_ECS_HOSTD_DRAIN_ON, "asg") &&
                                               !config_list_has(c, KEY_ECS_HOSTD_DRAIN_ON, "spo"));
        CHECK("default list",
              config_list_has(c, KEY_ECS_HOSTD_DRAIN_MAINTENANCE_CODES, "instance-retirement"));
        CHECK("a list item in another case is not the item",
              !config_list_has(c, KEY_ECS_HOSTD_DRAIN_MAINTENANCE_CODES, "Instance-Retirement"));
        CHECK_INTEQ("enum parsed once: mode", config_enum(c, KEY_ECS_HOSTD_MODE), CONFIG_MODE_AUTO);
        CHECK_INTEQ("enum parsed once: log level", config_enum(c, KEY_ECS_LOGLEVEL), LOG_INFO);
        CHECK("a set key is set", config_is_set(c, KEY_ECS_HOSTD_DRY_RUN));
        CHECK("a default is not set", !config_is_set(c, KEY_ECS_HOSTD_UNDRAIN));
        CHECK_INTEQ("ports parse", config_ports(c, KEY_ECS_RESERVED_PORTS_UDP, &ports, &n), 0);
        CHECK("ports values", n == 2 && ports[0] == 53 && ports[1] == 123);
        free(ports);
        ports = NULL;
        CHECK_INTEQ("default ports", config_ports(c, KEY_ECS_RESERVED_PORTS, &ports, &n), 0);
        CHECK("default ports values",
              n == 5 && ports[0] == 22 && ports[1] == 2375 && ports[4] == 51679);
        CHECK_STREQ("source file:line", config_source(c, KEY_ECS_HOSTD_POLL_INTERVAL_MS),
                    "t.conf:3");
        CHECK_STREQ("source default", config_source(c, KEY_ECS_CLUSTER), "default");
        CHECK_STREQ("source unset", config_source(c, KEY_AWS_REGION), "unset");
        CHECK("a key out of range reads NULL", !config_string(c, _KEY_MAX));
        config_free(c);
}

static void test_defaults(void) {
        static const struct {
                enum config_key key;
                const char *value;
        } defaults[] = {
                {KEY_ECS_CLUSTER, "default"},
                {KEY_ECS_LOGLEVEL, "info"},
                {KEY_AWS_EC2_METADATA_SERVICE_ENDPOINT, "http://169.254.169.254"},
                {KEY_ECS_HOSTD_IMDS_TOKEN_TTL, "21600"},
                {KEY_ECS_HOSTD_IMDS_V1_FALLBACK, "true"},
                {KEY_ECS_HOSTD_MODE, "auto"},
                {KEY_ECS_HOSTD_DATADIR, "/var/lib/ecs-hostd"},
                {KEY_ECS_HOSTD_ATTRIBUTES_DIR, "/etc/ecs/attributes.d"},
                {KEY_ECS_RESERVED_MEMORY, "0"},
                {KEY_ECS_AGENT_INTROSPECTION_URL, "http://127.0.0.1:51678/v1/metadata"},
                {KEY_ECS_HOSTD_DRAIN_ON, "spot,asg,maintenance"},
                {KEY_ECS_HOSTD_POLL_INTERVAL_MS, "1000"},
                {KEY_ECS_HOSTD_DRAIN_MAINTENANCE_CODES, "instance-stop,instance-retirement"},
                {KEY_ECS_HOSTD_UNDRAIN, "true"},
                {KEY_ECS_HOSTD_DRY_RUN, "false"},
                {KEY_ECS_HOSTD_METRICS_LISTEN, "127.0.0.1:51680"},
                {KEY_ECS_HOSTD_PROCFS, "/proc"},
        };
        static const enum config_key unset[] = {
                KEY_AWS_REGION,
                KEY_AWS_DEFAULT_REGION,
                KEY_ECS_BACKEND_HOST,
                KEY_AWS_ACCESS_KEY_ID,
                KEY_AWS_SECRET_ACCESS_KEY,
                KEY_AWS_SESSION_TOKEN,
                KEY_ECS_INSTANCE_ATTRIBUTES,
                KEY_ECS_CONTAINER_INSTANCE_TAGS,
                KEY_ECS_HOSTD_MAINTENANCE_LEAD,
                KEY_ECS_ENABLE_SPOT_INSTANCE_DRAINING,
                KEY_ECS_HOSTD_DRAIN_HOOK,
        };
        struct config *c = NULL;

        CHECK_INTEQ("empty config", config_new_empty(&c), 0);
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
                CHECK_STREQ(config_key_name(defaults[i].key), config_string(c, defaults[i].key),
                            defaults[i].value);
        for (size_t i = 0; i < ELEMENTSOF(unset); i++)
                CHECK(config_key_name(unset[i]), config_string(c, unset[i]) == NULL);
        config_free(c);
}

static char *write_temp(const char *text) {
        char *path = strdup("/tmp/test-config-XXXXXX");
        int fd = mkstemp(path);
        FILE *f = fdopen(fd, "w");

        fputs(text, f);
        fclose(f);
        return path;
}

static char *load_errors(struct config **ret, const char *const *files, size_t n, bool optional,
                         char *const *envp, int *ret_r) {
        struct errors errs = {};
        char *out;

        *ret_r = config_load(ret, files, n, optional, envp, &errs);
        out = errors_text(&errs);
        errors_done(&errs);
        return out;
}

static void test_precedence(void) {
        _cleanup_free_ char *a = write_temp("ECS_CLUSTER=from-a\nECS_LOGLEVEL=warn\n"
                                            "ECS_HOSTD_MODE=register\n");
        _cleanup_free_ char *b = write_temp("ECS_CLUSTER=from-b\nECS_HOSTD_DRY_RUN=true\n");
        _cleanup_free_ char *bad = write_temp("ECS_HOSTD_MODE=x\nECS_HOSTD_POLL_INTERVAL_MS=1\n");
        _cleanup_free_ char *bsrc = NULL, *want = NULL;
        char *got;
        const char *files[] = {a, b};
        char *env[] = {(char *)"ECS_LOGLEVEL=error", (char *)"PATH=/bin",
                       (char *)"ECS_ENGINE_AUTH_DATA=ignored", (char *)"NO_EQUALS", NULL};
        struct config *c = NULL, *untouched = (struct config *)&files;
        int r;

        got = load_errors(&c, files, 2, false, env, &r);
        CHECK_INTEQ("load two files", r, 0);
        CHECK_STREQ("load: no errors", got, "");
        CHECK_STREQ("later file wins", config_string(c, KEY_ECS_CLUSTER), "from-b");
        if (asprintf(&bsrc, "%s:1", b) < 0)
                abort();
        CHECK_STREQ("later file is the source", config_source(c, KEY_ECS_CLUSTER), bsrc);
        CHECK_STREQ("earlier file kept when not overridden", config_string(c, KEY_ECS_HOSTD_MODE),
                    "register");
        CHECK_STREQ("environment beats files", config_string(c, KEY_ECS_LOGLEVEL), "error");
        CHECK_STREQ("environment source", config_source(c, KEY_ECS_LOGLEVEL), "environment");
        config_free(c);
        free(got);

        /* The environment only overrides keys in the table. */
        {
                char *env2[] = {(char *)"ECS_CLUSTER=", (char *)"ECS_HOSTD_DRY_RUN=false", NULL};
                c = NULL;
                got = load_errors(&c, files, 2, false, env2, &r);
                CHECK_STREQ("empty environment value falls back to the default",
                            config_string(c, KEY_ECS_CLUSTER), "default");
                CHECK_STREQ("environment bool", config_string(c, KEY_ECS_HOSTD_DRY_RUN), "false");
                config_free(c);
                free(got);
        }

        /* Errors from every file and from the environment, all of them; *ret untouched. */
        {
                const char *files3[] = {a, bad, "/nonexistent/ecs.config"};
                char *env3[] = {(char *)"ECS_HOSTD_POLL_INTERVAL_MS=50",
                                (char *)"ECS_HOSTD_MODEE=auto", NULL};
                c = untouched;
                got = load_errors(&c, files3, 3, false, env3, &r);
                CHECK_INTEQ("errors: -EINVAL", r, -EINVAL);
                CHECK("errors: *ret untouched", c == untouched);
                if (asprintf(
                            &want,
                            "%s:1: ECS_HOSTD_MODE: \"x\" is not one of auto, register, companion\n"
                            "%s:2: ECS_HOSTD_POLL_INTERVAL_MS: 1 is below the minimum 100\n"
                            "/nonexistent/ecs.config: cannot read the file: No such file or "
                            "directory\n"
                            "environment: ECS_HOSTD_POLL_INTERVAL_MS: 50 is below the minimum 100\n"
                            "environment: unknown key ECS_HOSTD_MODEE (did you mean "
                            "ECS_HOSTD_MODE?)\n",
                            bad, bad) < 0)
                        abort();
                CHECK_STREQ("errors from files, missing file and environment", got, want);
                free(got);
        }

        /* The defaults may be missing. */
        {
                const char *files4[] = {"/nonexistent/ecs.config", a};
                c = NULL;
                got = load_errors(&c, files4, 2, true, NULL, &r);
                CHECK_INTEQ("optional missing file skipped", r, 0);
                CHECK_STREQ("optional: next file read", config_string(c, KEY_ECS_CLUSTER),
                            "from-a");
                config_free(c);
                free(got);
        }
        unlink(a);
        unlink(b);
        unlink(bad);
}

static void test_masking(void) {
        static const char secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRET";
        static const char token[] = "IQoJb3JpZ2luX2VjEXAMPLETOKENvalue";
        static const char key_id[] = "AKIAIOSFODNN7EXAMPLE";
        char *env[5];
        _cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL, *out = NULL, *errs = NULL;
        struct config *c = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (asprintf(&e1, "AWS_SECRET_ACCESS_KEY=%s", secret) < 0 ||
            asprintf(&e2, "AWS_SESSION_TOKEN=%s", token) < 0 ||
            asprintf(&e3, "AWS_ACCESS_KEY_ID=%s", key_id) < 0)
                abort();
        env[0] = e1;
        env[1] = e2;
        env[2] = e3;
        env[3] = (char *)"ECS_CLUSTER=prod";
        env[4] = NULL;
        errs = load_errors(&c, NULL, 0, true, env, &r);
        CHECK_INTEQ("masking: loads", r, 0);
        CHECK_STREQ("secret is readable by the daemon", config_string(c, KEY_AWS_SECRET_ACCESS_KEY),
                    secret);
        f = open_memstream(&out, &len);
        config_print(c, f);
        fclose(f);
        CHECK("secret access key not printed", !strstr(out, secret) && !strstr(out, "SECRET\n"));
        CHECK("session token not printed", !strstr(out, token) && !strstr(out, "value"));
        CHECK("access key id not printed whole", !strstr(out, key_id));
        CHECK("secret shown as stars", strstr(out, "AWS_SECRET_ACCESS_KEY=********  ") != NULL);
        CHECK("token shown as stars", strstr(out, "AWS_SESSION_TOKEN=********  ") != NULL);
        CHECK("access key id keeps its last 4",
              strstr(out, "AWS_ACCESS_KEY_ID=****************MPLE  ") != NULL);
        CHECK("print shows values with sources",
              strncmp(out, "ECS_CLUSTER=prod ", 17) == 0 && strstr(out, "# environment\n") &&
                      strstr(out, "ECS_HOSTD_MODE=auto ") && strstr(out, "# default\n") &&
                      strstr(out, "AWS_REGION= ") && strstr(out, "# unset\n"));
        config_free(c);
}

/* The proxy keys: a bare HOST:PORT means http://, each lowercase spelling is
 * a key of its own, and a password in a proxy URL is never shown. */
static void test_proxy_keys(void) {
        static const char text[] = "HTTP_PROXY=10.0.0.131:3128/\n"
                                   "https_proxy=https://proxy.corp:3129\n"
                                   "HTTPS_PROXY=http://ecs:hunter2@proxy.corp:3128\n"
                                   "NO_PROXY=169.254.169.254,169.254.170.2,/var/run/docker.sock\n"
                                   "no_proxy=.internal\n";
        _cleanup_free_ char *errs = NULL, *out = NULL;
        struct config *c = NULL;
        size_t len = 0;
        FILE *f;

        errs = parse(text, strlen(text), &c);
        CHECK_STREQ("proxy keys: the official agent's forms load", errs, "");
        CHECK_STREQ("proxy keys: a bare HOST:PORT means http://", config_string(c, KEY_HTTP_PROXY),
                    "http://10.0.0.131:3128/");
        CHECK_STREQ("proxy keys: lowercase is a key of its own", config_string(c, KEY_https_proxy),
                    "https://proxy.corp:3129");
        CHECK_STREQ("proxy keys: the daemon reads the password", config_string(c, KEY_HTTPS_PROXY),
                    "http://ecs:hunter2@proxy.corp:3128");
        CHECK_STREQ("proxy keys: NO_PROXY as written (a socket path included)",
                    config_string(c, KEY_NO_PROXY),
                    "169.254.169.254,169.254.170.2,/var/run/docker.sock");
        f = open_memstream(&out, &len);
        config_print(c, f);
        fclose(f);
        CHECK("proxy keys: the password is masked, the rest shown",
              strstr(out, "\nHTTPS_PROXY=http://ecs:********@proxy.corp:3128  ") &&
                      !strstr(out, "hunter2"));
        CHECK("proxy keys: a proxy without a password shown whole",
              strstr(out, "\nHTTP_PROXY=http://10.0.0.131:3128/  ") &&
                      strstr(out, "\nhttps_proxy=https://proxy.corp:3129  "));
        CHECK("proxy keys: unset ones show as unset", strstr(out, "\nhttp_proxy=  ") != NULL);
        CHECK_INTEQ("proxy keys: a lowercase spelling is no typo", config_warnings(c)->n, 0);
        config_free(c);

        check_errors("proxy keys: only http:// and https:// proxies",
                     "HTTPS_PROXY=socks5://ecs:hunter2@proxy.corp:1080\n",
                     "t.conf:1: HTTPS_PROXY: \"socks5://ecs:********@proxy.corp:1080\" is not an "
                     "http:// or https:// URL\n");
        check_errors("proxy keys: a user without a password is masked too",
                     "http_proxy=ftp://AKIDTOKEN@proxy.corp\n",
                     "t.conf:1: http_proxy: \"ftp://********@proxy.corp\" is not an http:// or "
                     "https:// URL\n");
        check_errors("proxy keys: a password with a raw '/' is masked whole",
                     "HTTPS_PROXY=http://ecs:hunt/er2@proxy.corp:3128\n",
                     "t.conf:1: HTTPS_PROXY: \"http://ecs:********@proxy.corp:3128\" is not an "
                     "http:// or https:// URL\n");
        check_errors("proxy keys: a bad value without a password is quoted", "HTTP_PROXY=http://\n",
                     "t.conf:1: HTTP_PROXY: \"http://\" is not an http:// or https:// URL\n");
}

static void test_print_quoting(void) {
        static const char text[] = "ECS_CONTAINER_INSTANCE_TAGS={\"a\": \"it's\"}\n"
                                   "ECS_INSTANCE_ATTRIBUTES={\"team\": \"x\"}\n";
        _cleanup_free_ char *errs = NULL, *out = NULL, *again = NULL;
        struct config *c = NULL, *c2 = NULL;
        size_t len = 0;
        FILE *f;

        errs = parse(text, strlen(text), &c);
        f = open_memstream(&out, &len);
        config_print(c, f);
        fclose(f);
        CHECK("print single-quotes JSON",
              strstr(out, "ECS_INSTANCE_ATTRIBUTES='{\"team\": \"x\"}'") != NULL);
        CHECK("print double-quotes a value with a single quote",
              strstr(out, "ECS_CONTAINER_INSTANCE_TAGS=\"{\\\"a\\\": \\\"it's\\\"}\"") != NULL);
        /* What --check-config prints, without its source comments, reads back
         * as the same configuration. */
        for (char *line = out, *nl; *line; line = nl + 1) {
                char *src;
                nl = strchr(line, '\n');
                *nl = 0;
                src = strstr(line, "  # ");
                if (src)
                        memset(src, ' ', strlen(src));
                *nl = '\n';
        }
        again = parse(out, strlen(out), &c2);
        CHECK_STREQ("printed config parses", again, "");
        CHECK_STREQ("round trip", config_string(c2, KEY_ECS_CONTAINER_INSTANCE_TAGS),
                    "{\"a\": \"it's\"}");
        config_free(c);
        config_free(c2);
}

/* Another module's check on a loaded value reports like the parser does. */
static void test_errors_add(void) {
        static const char text[] = "\nECS_CONTAINER_INSTANCE_TAGS={\"a b\": \"x\"}\n";
        struct errors errs = {};
        struct config *c = NULL;
        _cleanup_free_ char *e = parse(text, strlen(text), &c), *out = NULL;
        const char *file;
        unsigned line = 0;

        CHECK_STREQ("errors_add: the value loads", e, "");
        file = config_origin(c, KEY_ECS_CONTAINER_INSTANCE_TAGS, &line);
        CHECK("origin: the file and line that set the value",
              streq_ptr(file, "t.conf") && line == 2);
        CHECK_INTEQ("errors_add returns -EINVAL",
                    errors_add(&errs, file, line, "tag %s: invalid character ' '", "\"a b\""),
                    -EINVAL);
        out = errors_text(&errs);
        CHECK_STREQ("errors_add prints as file:line", out,
                    "t.conf:2: tag \"a b\": invalid character ' '\n");
        errors_done(&errs);
        CHECK("errors_done empties", errs.n == 0 && errs.v == NULL);
        config_free(c);
}

/* Ignored keys that look like typos of known ones are warnings, not errors. */
static void test_warnings(void) {
        static const char text[] = "ECS_CLUSTR=prod\n"
                                   "ecs_loglevel=debug\n"
                                   "ECS_ENABLE_TASK_IAM_ROLE=true\n"
                                   "ECS_LOGFILE=/log/ecs-agent.log\n";
        struct config *c = NULL;
        _cleanup_free_ char *e = parse(text, strlen(text), &c), *out = NULL;

        CHECK_STREQ("typos of shared keys are not errors", e, "");
        out = errors_text(config_warnings(c));
        CHECK_STREQ("typos of shared keys are warnings", out,
                    "t.conf:1: ECS_CLUSTR is not a key ecs-hostd reads (did you mean "
                    "ECS_CLUSTER?)\n"
                    "t.conf:2: ecs_loglevel is not a key ecs-hostd reads (did you mean "
                    "ECS_LOGLEVEL?)\n");
        CHECK_STREQ("the typo changes nothing", config_string(c, KEY_ECS_CLUSTER), "default");
        config_free(c);
}

/* The Auto Scaling keys: names by Auto Scaling's rules, the drain timeout's
 * default and range, the endpoint as a URL. */
static void test_asg_keys(void) {
        static const struct {
                const char *name, *text, *want;
        } errors[] = {
                {"hook name with a space", "ECS_HOSTD_ASG_LIFECYCLE_HOOK=drain hook\n",
                 "t.conf:1: ECS_HOSTD_ASG_LIFECYCLE_HOOK: \"drain hook\" is not a lifecycle hook "
                 "name (1 to 255 letters, digits and - _ /)\n"},
                {"hook name with a dot", "ECS_HOSTD_ASG_LIFECYCLE_HOOK=drain.v2\n",
                 "t.conf:1: ECS_HOSTD_ASG_LIFECYCLE_HOOK: \"drain.v2\" is not a lifecycle hook "
                 "name (1 to 255 letters, digits and - _ /)\n"},
                {"group name with a control character",
                 "ECS_HOSTD_ASG_NAME=web\x01"
                 "asg\n",
                 "t.conf:1: ECS_HOSTD_ASG_NAME: \"web\\x01asg\" is not an Auto Scaling group "
                 "name (1 to 255 characters, no control characters)\n"},
                {"drain timeout below a minute", "ECS_HOSTD_ASG_DRAIN_TIMEOUT=30s\n",
                 "t.conf:1: ECS_HOSTD_ASG_DRAIN_TIMEOUT: 30s is below the minimum 1m\n"},
                {"drain timeout beyond the hook's 48 h", "ECS_HOSTD_ASG_DRAIN_TIMEOUT=49h\n",
                 "t.conf:1: ECS_HOSTD_ASG_DRAIN_TIMEOUT: 49h is above the maximum 48h\n"},
                {"endpoint not a URL", "AWS_ENDPOINT_URL_AUTO_SCALING=autoscaling.example\n",
                 "t.conf:1: AWS_ENDPOINT_URL_AUTO_SCALING: \"autoscaling.example\" is not an "
                 "http:// or https:// URL\n"},
        };
        char name255[260], hook256[258];
        struct config *c = NULL;
        _cleanup_free_ char *errs = NULL;

        for (size_t i = 0; i < ELEMENTSOF(errors); i++)
                check_errors(errors[i].name, errors[i].text, errors[i].want);
        check_value("a hook name of every allowed kind",
                    "ECS_HOSTD_ASG_LIFECYCLE_HOOK=ecs/drain_2-x\n",
                    KEY_ECS_HOSTD_ASG_LIFECYCLE_HOOK, "ecs/drain_2-x");
        check_value("a group name with blanks and UTF-8",
                    "ECS_HOSTD_ASG_NAME=\"web tier \xc3\xa9t\xc3\xa9\"\n", KEY_ECS_HOSTD_ASG_NAME,
                    "web tier \xc3\xa9t\xc3\xa9");
        check_value("the endpoint", "AWS_ENDPOINT_URL_AUTO_SCALING=http://127.0.0.1:4566\n",
                    KEY_AWS_ENDPOINT_URL_AUTO_SCALING, "http://127.0.0.1:4566");

        errs = parse("", 0, &c);
        CHECK_INTEQ("drain timeout default: 15 min",
                    config_duration_ms(c, KEY_ECS_HOSTD_ASG_DRAIN_TIMEOUT), 15 * 60 * 1000);
        CHECK("no hook: the feature is off", !config_string(c, KEY_ECS_HOSTD_ASG_LIFECYCLE_HOOK));
        CHECK("no group: read from IMDS", !config_string(c, KEY_ECS_HOSTD_ASG_NAME));
        config_free(c);

        memset(name255, 'g', 255);
        name255[255] = 0;
        CHECK("a group name of 255 characters", config_asg_name_valid(name255));
        /* 254 characters and one beyond U+FFFF: 256 UTF-16 units, as AWS counts */
        memset(name255, 'g', 254);
        memcpy(name255 + 254, "\xf0\x9f\x9a\x80", 5);
        CHECK("255 characters one of which takes two UTF-16 units",
              !config_asg_name_valid(name255));
        memset(hook256, 'h', 256);
        hook256[256] = 0;
        CHECK("a hook name of 256 characters", !config_asg_hook_name_valid(hook256));
        hook256[255] = 0;
        CHECK("a hook name of 255 characters", config_asg_hook_name_valid(hook256));
        CHECK("an empty group name", !config_asg_name_valid(""));
        CHECK("an empty hook name", !config_asg_hook_name_valid(""));
        CHECK("tab, CR and LF are XML text", config_asg_name_valid("a\tb\r\nc"));
        CHECK("U+FFFE is not", !config_asg_name_valid("a\xef\xbf\xbe"));
        CHECK("bytes that are not UTF-8 are not", !config_asg_name_valid("a\xff"));
        CHECK("NULL is no name", !config_asg_name_valid(NULL) && !config_asg_hook_name_valid(NULL));
}

int main(void) {
        test_asg_keys();
        test_warnings();
        test_errors_add();
        test_error_classes();
        test_syntax();
        test_getters();
        test_defaults();
        test_precedence();
        test_masking();
        test_proxy_keys();
        test_print_quoting();
        return test_done();
}
