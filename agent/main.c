/* main.c: ecs-hostd's entry point.  Only setup: make the process non-dumpable
 * (it will hold AWS keys), parse the command line, load the configuration,
 * open the log, then hand over to the manager's event loop.
 * Exit status: 0 ok, 1 failure (bad configuration included), 2 bad usage. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "config.h"
#include "errors.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "registration.h"

#define EXIT_USAGE 2
#define AUTO_PROBE_MS 1000 /* --check-config asks the official agent this long */

struct args {
        const char **config_files; /* pointers into argv */
        size_t n_config_files;
        bool check_config;
        bool list_keys;
        enum config_list_format list_format;
};

static void help(void) {
        printf("Usage: ecs-hostd [OPTIONS]\n"
               "\n"
               "Host companion for Amazon ECS container instances.\n"
               "\n"
               "  -c, --config FILE   read FILE instead of the default configuration files\n"
               "                      (repeatable; later files override earlier ones)\n"
               "      --check-config  print the effective configuration and exit 0, or its\n"
               "                      errors and exit 1\n"
               "      --list-keys[=FORMAT]\n"
               "                      print every configuration key: as a markdown table\n"
               "                      (FORMAT markdown, the default), as man page entries (man)\n"
               "                      or as the example configuration file (conf)\n"
               "      --version       print the version and exit\n"
               "  -h, --help          print this help and exit\n"
               "\n"
               "Default files: /etc/ecs/ecs.config, then /etc/ecs/ecs-hostd.conf (missing ones\n"
               "are skipped); the environment overrides them.\n");
}

/* Returns 1 to go on, 0 to exit successfully (help, version), or a negative
 * errno for a usage error (already reported). */
static int parse_argv(int argc, char *argv[], struct args *a) {
        enum { ARG_CHECK_CONFIG = 0x100, ARG_LIST_KEYS, ARG_VERSION };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"check-config", no_argument, NULL, ARG_CHECK_CONFIG},
                {"list-keys", optional_argument, NULL, ARG_LIST_KEYS},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        /* at most argc files: the array never needs to grow */
                        if (!a->config_files) {
                                a->config_files = calloc((size_t)argc, sizeof(char *));
                                if (!a->config_files)
                                        return -ENOMEM;
                        }
                        a->config_files[a->n_config_files++] = optarg;
                        break;
                case ARG_CHECK_CONFIG:
                        a->check_config = true;
                        break;
                case ARG_LIST_KEYS:
                        a->list_keys = true;
                        if (optarg && strcmp(optarg, "man") == 0)
                                a->list_format = CONFIG_LIST_MAN;
                        else if (optarg && strcmp(optarg, "conf") == 0)
                                a->list_format = CONFIG_LIST_CONF;
                        else if (optarg && strcmp(optarg, "markdown") != 0) {
                                fprintf(stderr,
                                        "ecs-hostd: --list-keys=%s: markdown, man or conf\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("ecs-hostd %s (%s)\n", HOSTD_VERSION, HOSTD_GIT_HASH);
                        return 0;
                default:
                        return -EINVAL; /* getopt printed why */
                }
        }
        if (optind < argc) {
                fprintf(stderr, "ecs-hostd: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* What ECS_HOSTD_MODE=auto would choose now: ask the official agent once. */
static void print_mode(const struct config *cfg) {
        const char *url = config_string(cfg, KEY_ECS_AGENT_INTROSPECTION_URL);
        _cleanup_free_ char *arn = NULL;
        int r;

        if (config_enum(cfg, KEY_ECS_HOSTD_MODE) != CONFIG_MODE_AUTO)
                return;
        r = registration_probe_agent(url, AUTO_PROBE_MS, &arn);
        if (r == 0)
                printf("# ECS_HOSTD_MODE=auto resolves to companion: the official agent at %s "
                       "answers (%s)\n",
                       url, arn);
        else if (r == -ENODATA)
                printf("# ECS_HOSTD_MODE=auto resolves to companion: the official agent at %s "
                       "answers, not registered yet\n",
                       url);
        else if (config_is_set(cfg, KEY_ECS_CLUSTER))
                printf("# ECS_HOSTD_MODE=auto resolves to register: nothing answers at %s\n", url);
        else
                printf("# ECS_HOSTD_MODE=auto joins nothing: nothing answers at %s and "
                       "ECS_CLUSTER is not set\n",
                       url);
}

/* The configuration, with ECS's attribute rules checked by their owner.  On
 * errors: printed (--check-config) or logged, and the exit status. */
static int load(const struct args *a, struct config **ret) {
        _cleanup_(config_freep) struct config *cfg = NULL;
        struct errors errs = {};
        int r;

        r = manager_load_config(a->config_files, a->n_config_files, &cfg, &errs);
        if (a->check_config)
                errors_print(&errs, stderr);
        else
                log_errors(LOG_ERR, &errs);
        errors_done(&errs);
        if (r < 0 && r != -EINVAL)
                log_error_errno(r, "Failed to load the configuration: %m");
        if (r < 0)
                return EXIT_FAILURE;
        *ret = TAKE_PTR(cfg);
        return EXIT_SUCCESS;
}

static int check_config(const struct config *cfg) {
        config_print(cfg, stdout);
        print_mode(cfg);
        errors_print(config_warnings(cfg), stderr);
        return EXIT_SUCCESS;
}

static int run(struct config *cfg, const struct args *a) {
        _cleanup_(manager_freep) struct manager *m = NULL;
        int r;

        log_set_max_level(config_enum(cfg, KEY_ECS_LOGLEVEL));
        r = manager_new(&m, cfg, a->config_files, a->n_config_files);
        if (r < 0)
                return EXIT_FAILURE;
        return manager_run(m);
}

int main(int argc, char *argv[]) {
        _cleanup_(config_freep) struct config *cfg = NULL;
        struct args a = {};
        int r, dumpable;

        /* Before anything holds a key: no core dump of this process, and no
         * ptrace or /proc/PID/mem by other processes of the same user. */
        dumpable = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ? -errno : 0;
        r = parse_argv(argc, argv, &a);
        if (r > 0 && a.list_keys) {
                config_list_keys(stdout, a.list_format);
                r = 0;
        } else if (r > 0) {
                log_open();
                if (dumpable < 0)
                        log_warn_errno(dumpable,
                                       "Cannot make the process non-dumpable, so a core dump may "
                                       "hold the AWS keys: %m");
                r = load(&a, &cfg);
                if (r == EXIT_SUCCESS)
                        r = a.check_config ? check_config(cfg) : run(TAKE_PTR(cfg), &a);
        } else
                r = r == 0 ? EXIT_SUCCESS : EXIT_USAGE;
        free(a.config_files);
        return r;
}
