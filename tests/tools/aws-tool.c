/* aws-tool: drive the daemon's AWS clients from the command line, so the
 * scenario tests can check them against the emulators.  Configuration comes
 * from the environment exactly as for ecs-hostd (config_load_files with no
 * files and no defaults).  Prints one JSON object per result on stdout;
 * secrets are never printed.  Exit 0 when every step succeeded.
 *
 *   aws-tool imds PATH...          GET each path in turn ("sleep:MS" waits on a timer)
 *   aws-tool creds                 fetch credentials (prints the key id only)
 *   aws-tool asg-group             the Auto Scaling group from IMDS's instance tags
 *   aws-tool ecs OPERATION JSON    one ECS call
 *   aws-tool autoscaling ACTION [NAME=VALUE]...
 *                                  one Auto Scaling call with those form fields
 *   aws-tool asg-complete GROUP HOOK INSTANCE RESULT [TOKEN]
 *   aws-tool asg-heartbeat GROUP HOOK INSTANCE [TOKEN]
 *                                  the lifecycle wrappers ("-" for no INSTANCE)
 *   aws-tool asg-lifecycle complete|heartbeat [BUDGET_SECONDS [TOKEN]]
 *                                  what the daemon does (asg-lifecycle.h): this
 *                                  instance, the configured hook, the group
 *                                  from ECS_HOSTD_ASG_NAME or IMDS, retries
 * The Auto Scaling commands need ECS_HOSTD_ASG_LIFECYCLE_HOOK set, as the
 * daemon makes that client only then; their result carries the client's
 * opstats so far ("stats").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "asg-lifecycle.h"
#include "aws-clients.h"
#include "event-util.h"
#include "log.h"

extern char **environ;

struct tool {
        sd_event *event;
        struct aws_clients *aws;
        char **args;
        int n_args, next;
        const char *op;
        int failures;
        const struct config *cfg;
        struct asg_lifecycle *lifecycle;
};

static void print_json(cJSON *o) {
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s);
        fflush(stdout);
        free(s);
        cJSON_Delete(o);
}

static void imds_next(struct tool *t);

static void on_imds(const struct imds_result *r, void *userdata) {
        struct tool *t = userdata;
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "path", t->args[t->next - 1]);
        cJSON_AddNumberToObject(o, "error", r->error);
        cJSON_AddNumberToObject(o, "status", (double)r->status);
        cJSON_AddNumberToObject(o, "attempts", r->attempts);
        if (r->error) {
                cJSON_AddStringToObject(o, "error_text", r->error_text);
                t->failures++;
        } else
                cJSON_AddStringToObject(o, "body", r->body);
        cJSON_AddBoolToObject(o, "v1", imds_using_v1(t->aws->imds));
        print_json(o);
        imds_next(t);
}

static int on_sleep(sd_event_source *s, uint64_t usec, void *userdata) {
        (void)s, (void)usec; /* a floating one-shot source: the loop owns it */
        imds_next(userdata);
        return 0;
}

static void imds_next(struct tool *t) {
        if (t->next >= t->n_args) {
                sd_event_exit(t->event, 0);
                return;
        }
        if (strncmp(t->args[t->next], "sleep:", 6) == 0) {
                uint64_t ms = strtoull(t->args[t->next++] + 6, NULL, 10);
                if (sd_event_add_time_relative(t->event, NULL, CLOCK_MONOTONIC, ms * 1000,
                                               TIMER_ACCURACY_USEC, on_sleep, t) < 0)
                        sd_event_exit(t->event, 1);
                return;
        }
        if (imds_get(t->aws->imds, t->args[t->next++], on_imds, t, NULL) < 0) {
                t->failures++;
                sd_event_exit(t->event, 0);
        }
}

static void on_creds(const struct aws_credentials *c, int error, const char *text, void *userdata) {
        struct tool *t = userdata;
        cJSON *o = cJSON_CreateObject();

        cJSON_AddNumberToObject(o, "error", error);
        cJSON_AddStringToObject(o, "source", credentials_source(t->aws->creds));
        if (c) {
                cJSON_AddStringToObject(o, "access_key_id", c->access_key_id);
                cJSON_AddBoolToObject(o, "has_session_token", c->session_token != NULL);
                cJSON_AddNumberToObject(o, "expiration", (double)c->expiration);
        } else {
                cJSON_AddStringToObject(o, "error_text", text ? text : "");
                t->failures++;
        }
        print_json(o);
        sd_event_exit(t->event, 0);
}

static void on_group(int error, const char *group, const char *text, void *userdata) {
        struct tool *t = userdata;
        cJSON *o = cJSON_CreateObject();

        cJSON_AddNumberToObject(o, "error", error);
        if (group)
                cJSON_AddStringToObject(o, "group", group);
        else {
                cJSON_AddStringToObject(o, "error_text", text ? text : "");
                t->failures++;
        }
        print_json(o);
        sd_event_exit(t->event, 0);
}

static void on_ecs(const struct ecs_result *r, void *userdata) {
        struct tool *t = userdata;
        cJSON *o = cJSON_CreateObject();

        cJSON_AddNumberToObject(o, "error", r->error);
        cJSON_AddNumberToObject(o, "kind", r->kind);
        cJSON_AddNumberToObject(o, "status", (double)r->status);
        cJSON_AddNumberToObject(o, "attempts", r->attempts);
        if (r->code)
                cJSON_AddStringToObject(o, "code", r->code);
        if (r->message)
                cJSON_AddStringToObject(o, "message", r->message);
        if (r->response)
                cJSON_AddItemToObject(o, "response", cJSON_Duplicate(r->response, 1));
        if (r->error)
                t->failures++;
        print_json(o);
        sd_event_exit(t->event, 0);
}

static cJSON *stats_json(const struct opstats *s) {
        cJSON *o = cJSON_CreateObject();

        for (size_t i = 0; i < s->n_ops; i++) {
                cJSON *op = cJSON_AddObjectToObject(o, s->ops[i].name);
                for (size_t k = 0; s->outcomes[k]; k++)
                        if (s->ops[i].n[k])
                                cJSON_AddNumberToObject(op, s->outcomes[k], (double)s->ops[i].n[k]);
        }
        cJSON_AddNumberToObject(o, "retries", (double)s->retries);
        return o;
}

static void on_autoscaling(const struct autoscaling_result *r, void *userdata) {
        struct tool *t = userdata;
        cJSON *o = cJSON_CreateObject();
        const xmlNode *root = r->document ? xmlDocGetRootElement(r->document) : NULL;

        cJSON_AddNumberToObject(o, "error", r->error);
        cJSON_AddNumberToObject(o, "kind", r->kind);
        cJSON_AddNumberToObject(o, "status", (double)r->status);
        cJSON_AddNumberToObject(o, "attempts", r->attempts);
        if (r->code)
                cJSON_AddStringToObject(o, "code", r->code);
        if (r->service_message)
                cJSON_AddStringToObject(o, "service_message", r->service_message);
        if (r->message)
                cJSON_AddStringToObject(o, "message", r->message);
        if (r->request_id)
                cJSON_AddStringToObject(o, "request_id", r->request_id);
        if (root)
                cJSON_AddStringToObject(o, "answer", (const char *)root->name);
        cJSON_AddStringToObject(o, "endpoint", autoscaling_endpoint(t->aws->autoscaling));
        cJSON_AddItemToObject(o, "stats", stats_json(autoscaling_stats()));
        if (r->error)
                t->failures++;
        print_json(o);
        sd_event_exit(t->event, 0);
}

/* "-" stands for an argument left out (NULL). */
static const char *arg(const struct tool *t, int i) {
        return i < t->n_args && strcmp(t->args[i], "-") != 0 ? t->args[i] : NULL;
}

static int autoscaling_start(struct tool *t) {
        struct autoscaling *as = t->aws->autoscaling;
        struct autoscaling_param p[32];
        size_t n = 0;

        if (!as) {
                fprintf(stderr,
                        "aws-tool: no Auto Scaling client: set ECS_HOSTD_ASG_LIFECYCLE_HOOK\n");
                return -ENOENT;
        }
        if (strcmp(t->op, "asg-complete") == 0)
                return autoscaling_complete_lifecycle_action(as, arg(t, 0), arg(t, 1), arg(t, 2),
                                                             arg(t, 3), arg(t, 4), on_autoscaling,
                                                             t, NULL);
        if (strcmp(t->op, "asg-heartbeat") == 0)
                return autoscaling_record_lifecycle_action_heartbeat(
                        as, arg(t, 0), arg(t, 1), arg(t, 2), arg(t, 3), on_autoscaling, t, NULL);
        for (int i = 1; i < t->n_args && n < ELEMENTSOF(p); i++) {
                char *eq = strchr(t->args[i], '=');
                if (!eq)
                        return -EINVAL;
                *eq = 0; /* argv is ours to cut */
                p[n++] = (struct autoscaling_param){t->args[i], eq + 1};
        }
        return autoscaling_call(as, t->args[0], p, n, on_autoscaling, t, NULL);
}

static void on_lifecycle(const struct asg_lifecycle_result *r, void *userdata) {
        struct tool *t = userdata;
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "action", asg_lifecycle_action_name(r->action));
        cJSON_AddStringToObject(o, "outcome", asg_lifecycle_outcome_name(r->outcome));
        cJSON_AddNumberToObject(o, "kind", r->kind);
        cJSON_AddNumberToObject(o, "attempts", r->attempts);
        if (r->code)
                cJSON_AddStringToObject(o, "code", r->code);
        if (r->message)
                cJSON_AddStringToObject(o, "message", r->message);
        if (r->group)
                cJSON_AddStringToObject(o, "group", r->group);
        cJSON_AddStringToObject(o, "hook", asg_lifecycle_hook(t->lifecycle));
        if (r->outcome != ASG_LIFECYCLE_DONE)
                t->failures++;
        print_json(o);
        sd_event_exit(t->event, 0);
}

static int lifecycle_start(struct tool *t) {
        enum asg_lifecycle_action action;
        double budget = t->n_args > 1 ? strtod(t->args[1], NULL) : 0;
        int r;

        if (strcmp(t->args[0], "complete") == 0)
                action = ASG_LIFECYCLE_COMPLETE;
        else if (strcmp(t->args[0], "heartbeat") == 0)
                action = ASG_LIFECYCLE_HEARTBEAT;
        else
                return -EINVAL;
        r = asg_lifecycle_new(&t->lifecycle, t->aws, t->cfg);
        if (r < 0)
                return r;
        return asg_lifecycle_start(t->lifecycle, action, arg(t, 2),
                                   budget > 0 ? (uint64_t)(budget * 1e6) : 0, on_lifecycle, t,
                                   NULL);
}

static void on_ready(struct aws_clients *a, int error, const char *text, void *userdata) {
        struct tool *t = userdata;
        cJSON *req;
        int r;

        if (error < 0) {
                fprintf(stderr, "aws-tool: %s\n", text);
                t->failures++;
                sd_event_exit(t->event, 0);
                return;
        }
        if (strcmp(t->op, "ecs") != 0) {
                r = strcmp(t->op, "asg-lifecycle") == 0 ? lifecycle_start(t) : autoscaling_start(t);
                if (r < 0) {
                        fprintf(stderr, "aws-tool: %s: %s\n", t->op, strerror(-r));
                        t->failures++;
                        sd_event_exit(t->event, 0);
                }
                return;
        }
        req = cJSON_Parse(t->args[1]);
        if (!req) {
                fprintf(stderr, "aws-tool: the request is not JSON\n");
                t->failures++;
                sd_event_exit(t->event, 0);
                return;
        }
        r = ecs_call(a->ecs, t->args[0], req, on_ecs, t, NULL);
        cJSON_Delete(req);
        if (r < 0) {
                t->failures++;
                sd_event_exit(t->event, 0);
        }
}

int main(int argc, char *argv[]) {
        struct errors errs = {};
        struct config *cfg = NULL;
        struct tool t = {};
        int r;

        if (argc < 2) {
                fprintf(stderr,
                        "usage: aws-tool imds PATH... | creds | asg-group | ecs OPERATION JSON | "
                        "autoscaling ACTION [NAME=VALUE]... | asg-complete GROUP HOOK "
                        "INSTANCE RESULT [TOKEN] | asg-heartbeat GROUP HOOK INSTANCE "
                        "[TOKEN] | asg-lifecycle complete|heartbeat [BUDGET_SECONDS [TOKEN]]\n");
                return 2;
        }
        log_force_stderr(1);
        r = config_load(&cfg, NULL, 0, true, environ, &errs);
        if (r < 0) {
                errors_print(&errs, stderr);
                errors_done(&errs);
                return 2;
        }
        log_set_max_level(config_enum(cfg, KEY_ECS_LOGLEVEL));
        sd_event_default(&t.event);
        r = aws_clients_new(&t.aws, t.event, cfg);
        if (r < 0) {
                fprintf(stderr, "aws-tool: %s\n", strerror(-r));
                return 2;
        }
        t.op = argv[1];
        t.cfg = cfg;
        t.args = argv + 2;
        t.n_args = argc - 2;

        if (strcmp(t.op, "imds") == 0)
                imds_next(&t);
        else if (strcmp(t.op, "creds") == 0)
                r = credentials_get(t.aws->creds, on_creds, &t, NULL);
        else if (strcmp(t.op, "asg-group") == 0)
                r = imds_get_autoscaling_group(t.aws->imds, on_group, &t, NULL);
        else if ((strcmp(t.op, "ecs") == 0 && t.n_args == 2) ||
                 (strcmp(t.op, "autoscaling") == 0 && t.n_args >= 1) ||
                 (strcmp(t.op, "asg-complete") == 0 && t.n_args >= 4) ||
                 (strcmp(t.op, "asg-heartbeat") == 0 && t.n_args >= 3) ||
                 (strcmp(t.op, "asg-lifecycle") == 0 && t.n_args >= 1))
                r = aws_clients_start(t.aws, on_ready, &t);
        else {
                fprintf(stderr, "aws-tool: unknown command %s\n", t.op);
                return 2;
        }
        if (r >= 0)
                sd_event_loop(t.event);
        asg_lifecycle_free(t.lifecycle);
        aws_clients_free(t.aws);
        sd_event_unref(t.event);
        config_free(cfg);
        return t.failures || r < 0 ? 1 : 0;
}
