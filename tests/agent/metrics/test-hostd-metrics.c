/* test-hostd-metrics.c: the ecs_hostd_* families from a view: what a
 * daemon that has not joined writes, what one that drained writes, how
 * outside names are escaped and an unknown status is kept out of the
 * labels; and the request counts' table (opstats), overflow included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-metrics.h"
#include "macro.h"
#include "test.h"

static char *render(const struct hostd_view *v) {
        struct expo e;
        char *text = NULL;
        size_t len;

        expo_init(&e, EXPO_TEXT);
        hostd_metrics_write(&e, v);
        return expo_finish(&e, &text, &len) < 0 ? NULL : text;
}

static bool has(const char *text, const char *line) {
        char want[512];

        snprintf(want, sizeof want, "\n%s\n", line);
        return text && strstr(text, want);
}

static void test_not_joined(void) {
        _cleanup_free_ char *t = render(&(struct hostd_view){.mode = "auto"});

        CHECK("build info", t && strstr(t, "\necs_hostd_build_info{version=\"" HOSTD_VERSION "\""));
        CHECK("the configured mode", has(t, "ecs_hostd_mode{mode=\"auto\"} 1"));
        CHECK("the container instance not known", has(t, "ecs_hostd_container_instance_known 0"));
        CHECK("no info, no status", t && !strstr(t, "container_instance_info") &&
                                            !strstr(t, "container_instance_status"));
        CHECK("no watcher yet", has(t, "ecs_hostd_watcher_running 0") &&
                                        !strstr(t, "ecs_hostd_interruption_notices_pending"));
        CHECK("attribute syncs at 0",
              has(t, "ecs_hostd_attribute_syncs_total{result=\"success\"} 0"));
}

static void test_drained(void) {
        struct watcher_stats ws = {.polls = 120, .polls_skipped = 1, .last_drain_seconds = 0.25};
        struct watcher_state st = {.ecs_status = NULL};
        struct opstats ecs = {.outcomes = (const char *const[]){"success", "throttled", NULL}};
        struct credentials_stats cr = {.refreshes = 2, .expiration = 1800000000};
        struct hostd_view v = {
                .mode = "register",
                .cluster = "lab\"5",
                .arn = "arn:aws:ecs:us-east-1:123456789012:container-instance/lab/abc",
                .ec2_instance_id = "i-0123",
                .ecs_status = "DRAINING",
                .watcher = &st,
                .watcher_stats = &ws,
                .ecs = &ecs,
                .credentials = &cr,
                .attribute_syncs = {3, 1},
        };
        _cleanup_free_ char *t = NULL;

        ws.notices[NOTICE_SPOT] = 1;
        ws.drains[NOTICE_SPOT][WATCHER_DRAIN_CONFIRMED] = 1;
        ws.drain_calls = 1;
        st.pending[NOTICE_SPOT] = 1;
        st.pending_time[NOTICE_SPOT] = 1790000000;
        st.pending[NOTICE_REBALANCE] = 1; /* a recommendation announces no time */
        opstats_count(&ecs, "UpdateContainerInstancesState", 0);
        opstats_count(&ecs, "UpdateContainerInstancesState", 1);
        opstats_count(&ecs, "UpdateContainerInstancesState", 0);
        ecs.retries = 4;
        t = render(&v);
        CHECK("info, the cluster's quote escaped",
              has(t,
                  "ecs_hostd_container_instance_info{cluster=\"lab\\\"5\",container_instance_arn="
                  "\"arn:aws:ecs:us-east-1:123456789012:container-instance/lab/abc\","
                  "ec2_instance_id=\"i-0123\"} 1"));
        CHECK("status DRAINING set",
              has(t, "ecs_hostd_container_instance_status{status=\"DRAINING\"} 1"));
        CHECK("ACTIVE unset", has(t, "ecs_hostd_container_instance_status{status=\"ACTIVE\"} 0"));
        CHECK("pending by kind",
              has(t, "ecs_hostd_interruption_notices_pending{kind=\"spot\"} 1") &&
                      has(t, "ecs_hostd_interruption_notices_pending{kind=\"asg\"} 0"));
        CHECK("the announced time, only where there is one",
              has(t, "ecs_hostd_interruption_time_seconds{kind=\"spot\"} 1.79e+09") &&
                      !strstr(t, "ecs_hostd_interruption_time_seconds{kind=\"rebalance\"}"));
        CHECK("notices and drains by kind and result",
              has(t, "ecs_hostd_interruption_notices_total{kind=\"spot\"} 1") &&
                      has(t, "ecs_hostd_drains_total{kind=\"spot\",result=\"confirmed\"} 1") &&
                      has(t, "ecs_hostd_drains_total{kind=\"maintenance\",result=\"undone\"} 0"));
        CHECK("the last drain's latency", has(t, "ecs_hostd_last_drain_seconds 0.25"));
        CHECK("polls", has(t, "ecs_hostd_watcher_polls_total 120") &&
                               has(t, "ecs_hostd_watcher_polls_skipped_total 1"));
        CHECK("ECS requests by operation and outcome",
              has(t, "ecs_hostd_ecs_requests_total{operation=\"UpdateContainerInstancesState\","
                     "outcome=\"success\"} 2") &&
                      has(t, "ecs_hostd_ecs_requests_total{operation="
                             "\"UpdateContainerInstancesState\","
                             "outcome=\"throttled\"} 1"));
        CHECK("ECS retries", has(t, "ecs_hostd_ecs_retries_total 4"));
        CHECK("no IMDS families without IMDS stats", !strstr(t, "ecs_hostd_imds_requests_total"));
        CHECK("credentials",
              has(t, "ecs_hostd_credential_refreshes_total{result=\"success\"} 2") &&
                      has(t, "ecs_hostd_credentials_expiration_timestamp_seconds 1.8e+09"));
        CHECK("syncs by result", has(t, "ecs_hostd_attribute_syncs_total{result=\"failure\"} 1"));
}

static void test_unknown_status(void) {
        _cleanup_free_ char *t = render(&(struct hostd_view){
                .mode = "companion", .arn = "arn:x", .ecs_status = "PWNED\"} 1\nevil 1"});

        CHECK("a status ECS does not document is no label value",
              t && !strstr(t, "PWNED") && !strstr(t, "\nevil") &&
                      has(t, "ecs_hostd_container_instance_status{status=\"ACTIVE\"} 0"));
}

static void test_opstats(void) {
        struct opstats s = {.outcomes = (const char *const[]){"success", "error", NULL}};
        char name[32];

        for (int i = 0; i < OPSTATS_OPS_MAX + 5; i++) {
                snprintf(name, sizeof name, "op%d", i);
                opstats_count(&s, name, i % 2);
        }
        CHECK_INTEQ("the table is full", s.n_ops, OPSTATS_OPS_MAX);
        CHECK_STREQ("its last row is other", s.ops[OPSTATS_OPS_MAX - 1].name, "other");
        CHECK_INTEQ("the operations beyond it are counted there", opstats_total(&s, "other", -1),
                    6);
        CHECK_INTEQ("nothing lost", opstats_total(&s, NULL, -1), OPSTATS_OPS_MAX + 5);
        CHECK_INTEQ("by outcome", opstats_total(&s, NULL, 1), (OPSTATS_OPS_MAX + 5) / 2);
        opstats_count(&s, "op0", OPSTATS_OUTCOMES_MAX);
        CHECK_INTEQ("an outcome out of range is dropped", opstats_total(&s, "op0", -1), 1);
}

int main(void) {
        test_not_joined();
        test_drained();
        test_unknown_status();
        test_opstats();
        return test_done();
}
