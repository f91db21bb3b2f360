/* main.c: ecs-hostd's entry point.  Only setup: parse the command line, load
 * the configuration, open the log, then hand over to the manager's event loop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static void help(void) {
        printf("Usage: ecs-hostd [OPTIONS]\n"
               "\n"
               "Host companion for Amazon ECS container instances.\n"
               "\n"
               "  -c, --config FILE   read FILE instead of the default configuration files\n"
               "                      (repeatable; later files override earlier ones)\n"
               "      --check-config  print the effective configuration and exit 0 or 1\n"
               "      --version       print the version and exit\n"
               "  -h, --help          print this help and exit\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("ecs-hostd %s (%s)\n", HOSTD_VERSION, HOSTD_GIT_HASH);
                        return EXIT_SUCCESS;
                default:
                        return EXIT_FAILURE;
                }
        }
        log_open();
        log_error("the daemon is not built yet");
        return EXIT_FAILURE;
}
