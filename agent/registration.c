/* registration.c: the join-the-cluster state machine.  Each step issues one
 * asynchronous request (ECS, IMDS or the official agent's introspection) and
 * its callback decides the next step; at most one request is in flight.  The
 * callback to the owner is always the last thing a step does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"
#include "event-util.h"
#include "log.h"
#include "macro.h"
#include "registration.h"
#include "resources.h"

#define INTROSPECTION_TIMEOUT_MS 1000
#define AUTO_PROBE_ATTEMPTS 3        /* "answers within a short wait": 3 tries ... */
#define AUTO_PROBE_DELAY_USEC 500000 /* ... half a second apart */
#define DESCRIBE_BATCH 100           /* DescribeContainerInstances takes at most 100 */
#define ARN_QUOTE_MAX 200            /* bytes of a refused ARN a log line shows */

struct registration {
        struct aws_clients *aws;  /* borrowed */
        const struct config *cfg; /* borrowed */
        registration_callback_t cb;
        void *userdata;

        enum config_mode mode; /* resolved: register or companion after auto's probe */
        bool auto_mode;        /* configured auto: a refused agent answer means register */
        const char *cluster;
        bool cluster_unset; /* ECS_CLUSTER not configured: "default", created if missing */
        const char *datadir;
        struct state state; /* loaded or being built */
        bool have_state;
        unsigned probes;

        struct ecs_call *ecs_call;
        struct imds_request *imds_req;
        struct http_call *http_call;
        sd_event_source *timer;

        /* register mode: what IMDS tells */
        char *signature, *mac, *vpc_id, *subnet_id;
        /* companion fallback: the cluster's container instances */
        char **arns;
        size_t n_arns, next_arn;
        char *next_token;
        /* an ARN being confirmed before it is adopted, and where it came from */
        char *candidate;
        enum adopt_source { FROM_STATE, FROM_AGENT } candidate_source;
        char message[700];
};

static const char *mode_name(enum config_mode m) {
        static const char *const names[] = {
                [CONFIG_MODE_AUTO] = "auto",
                [CONFIG_MODE_REGISTER] = "register",
                [CONFIG_MODE_COMPANION] = "companion",
        };
        return names[m];
}

/* The join cannot go on now: say why and how soon to try again (never DONE:
 * done() reports success). */
static void fail(struct registration *g, enum registration_outcome outcome, const char *fmt, ...)
        _printf_(3, 4);
static void fail(struct registration *g, enum registration_outcome outcome, const char *fmt, ...) {
        struct registration_result r = {.outcome = outcome, .mode = mode_name(g->mode)};
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(g->message, sizeof g->message, fmt, ap);
        va_end(ap);
        r.message = g->message;
        g->cb(&r, g->userdata);
}

/* What an ECS failure means for the join: the caller's retry pace. */
static void ecs_failed(struct registration *g, const struct ecs_result *res) {
        if (res->kind == ECS_ERR_ACCESS || res->kind == ECS_ERR_AUTH ||
            res->kind == ECS_ERR_CREDENTIALS)
                fail(g, REGISTRATION_RETRY_SLOW, "%s", res->message);
        else
                fail(g, REGISTRATION_RETRY, "%s", res->message);
}

static int call(struct registration *g, const char *op, cJSON *req, ecs_callback_t cb) {
        int r = ecs_call(g->aws->ecs, op, req, cb, g, &g->ecs_call);
        cJSON_Delete(req);
        return r;
}

/* Remember the identity (keeping the attributes we own) and report it. */
static void done(struct registration *g, const char *arn, const char *cluster, bool reused,
                 const char *status) {
        struct state n = {};
        int r;

        if (!(n.container_instance_arn = strdup(arn)) || !(n.cluster = strdup(cluster)) ||
            !(n.region = strdup(g->aws->region)) ||
            !(n.ec2_instance_id = strdup(g->aws->identity.instance_id)) ||
            (g->have_state && streq_ptr(g->state.container_instance_arn, arn) &&
             state_set_owned(&n, g->state.owned_attributes, g->state.n_owned_attributes) < 0)) {
                state_done(&n);
                fail(g, REGISTRATION_RETRY, "out of memory");
                return;
        }
        state_done(&g->state);
        g->state = n;
        g->have_state = true;
        r = state_save(g->datadir, &g->state);
        if (r < 0)
                log_error_errno(r,
                                "Failed to save %s/" STATE_FILE
                                ": %m; a restart will not know this container instance",
                                g->datadir);
        {
                struct registration_result res = {
                        .outcome = REGISTRATION_DONE,
                        .arn = g->state.container_instance_arn,
                        .cluster = g->state.cluster,
                        .mode = mode_name(g->mode),
                        .reused = reused,
                        .status = status,
                        .state = &g->state,
                };
                g->cb(&res, g->userdata);
        }
}

/* ---- register mode ------------------------------------------------------ */

static void list_page(struct registration *g);
static void start_mode(struct registration *g);
static void confirm(struct registration *g, enum adopt_source src, const char *arn);
static void refuse(struct registration *g, enum adopt_source src, const char *arn, const char *why);
static const char *arn_mismatch(const struct registration *g, const char *arn, char *buf,
                                size_t size);

static cJSON *attribute(const char *name, const char *value) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        if (value)
                cJSON_AddStringToObject(o, "value", value);
        return o;
}

static void on_registered(const struct ecs_result *res, void *userdata) {
        struct registration *g = userdata;
        const cJSON *ci;
        const char *arn;

        g->ecs_call = NULL;
        if (res->error) {
                if (ecs_cluster_not_found(res))
                        fail(g, REGISTRATION_TERMINAL, "cluster %s does not exist in %s (%s)",
                             g->cluster, g->aws->region, res->message);
                else
                        ecs_failed(g, res);
                return;
        }
        ci = cJSON_GetObjectItemCaseSensitive(res->response, "containerInstance");
        arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ci, "containerInstanceArn"));
        if (!arn || strncmp(arn, "arn:", 4) != 0) {
                fail(g, REGISTRATION_RETRY,
                     "ECS RegisterContainerInstance: the answer has no containerInstanceArn");
                return;
        }
        log_info("Registered EC2 instance %s in cluster %s as %s", g->aws->identity.instance_id,
                 g->cluster, arn);
        done(g, arn, g->cluster, false,
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ci, "status")));
}

/* The tags of ECS_CONTAINER_INSTANCE_TAGS (validated: an object of strings)
 * as RegisterContainerInstance wants them: [{"key", "value"}, ...]. */
static cJSON *tags_json(const char *tags) {
        cJSON *t = cJSON_Parse(tags), *item, *out = cJSON_CreateArray();

        cJSON_ArrayForEach(item, t) {
                cJSON *kv = cJSON_CreateObject();
                cJSON_AddStringToObject(kv, "key", item->string);
                cJSON_AddStringToObject(kv, "value", cJSON_GetStringValue(item) ?: "");
                cJSON_AddItemToArray(out, kv);
        }
        cJSON_Delete(t);
        return out;
}

/* What the official agent registers: the identity document and its
 * signature, the host's resources, the version and the built-in attributes. */
static cJSON *register_request(struct registration *g, const struct resources *res) {
        const char *tags = config_string(g->cfg, KEY_ECS_CONTAINER_INSTANCE_TAGS);
        cJSON *req = cJSON_CreateObject(), *attrs, *ver;

        cJSON_AddStringToObject(req, "cluster", g->cluster);
        cJSON_AddStringToObject(req, "instanceIdentityDocument", g->aws->identity_document);
        cJSON_AddStringToObject(req, "instanceIdentityDocumentSignature", g->signature);
        cJSON_AddItemToObject(req, "totalResources", resources_to_json(res));
        ver = cJSON_AddObjectToObject(req, "versionInfo");
        cJSON_AddStringToObject(ver, "agentVersion", "ecs-hostd-" HOSTD_VERSION);
        cJSON_AddStringToObject(ver, "agentHash", HOSTD_GIT_HASH);
        attrs = cJSON_AddArrayToObject(req, "attributes");
        cJSON_AddItemToArray(attrs, attribute("ecs.os-type", "linux"));
        cJSON_AddItemToArray(attrs, attribute("ecs.os-family", "LINUX"));
        cJSON_AddItemToArray(attrs,
                             attribute("ecs.cpu-architecture", resources_cpu_architecture()));
        if (g->vpc_id)
                cJSON_AddItemToArray(attrs, attribute("ecs.vpc-id", g->vpc_id));
        if (g->subnet_id)
                cJSON_AddItemToArray(attrs, attribute("ecs.subnet-id", g->subnet_id));
        if (tags && *tags)
                cJSON_AddItemToObject(req, "tags", tags_json(tags));
        return req;
}

/* The metrics endpoint's ports join the reserved TCP ports, as the official
 * agent reserves 51680: a bridge-mode task mapping one would collide. */
static int reserve_listen_ports(const struct config *cfg, uint16_t **ports, size_t *n) {
        uint16_t listen[CONFIG_LISTEN_MAX];
        size_t n_listen = config_listen_ports(cfg, KEY_ECS_HOSTD_METRICS_LISTEN, listen);
        uint16_t *v = realloc(*ports, (*n + n_listen + 1) * sizeof *v);

        if (!v)
                return -ENOMEM;
        *ports = v;
        for (size_t i = 0; i < n_listen; i++) {
                bool have = false;
                for (size_t j = 0; j < *n && !have; j++)
                        have = v[j] == listen[i];
                if (!have)
                        v[(*n)++] = listen[i];
        }
        return 0;
}

static void do_register(struct registration *g) {
        _cleanup_free_ uint16_t *ports = NULL, *udp = NULL;
        struct resources res = {};
        size_t n_ports = 0, n_udp = 0;
        cJSON *req;
        int r;

        r = config_ports(g->cfg, KEY_ECS_RESERVED_PORTS, &ports, &n_ports);
        if (r >= 0)
                r = reserve_listen_ports(g->cfg, &ports, &n_ports);
        if (r >= 0)
                r = config_ports(g->cfg, KEY_ECS_RESERVED_PORTS_UDP, &udp, &n_udp);
        if (r >= 0)
                r = resources_read(&res, "/proc/meminfo",
                                   config_int(g->cfg, KEY_ECS_RESERVED_MEMORY), ports, n_ports, udp,
                                   n_udp);
        if (r < 0) {
                fail(g, REGISTRATION_RETRY, "cannot read the host's resources: %s", strerror(-r));
                return;
        }
        req = register_request(g, &res);
        resources_done(&res);
        r = call(g, "RegisterContainerInstance", req, on_registered);
        if (r < 0)
                fail(g, REGISTRATION_RETRY, "cannot call RegisterContainerInstance: %s",
                     strerror(-r));
}

static void imds_then(struct registration *g, const char *path, imds_callback_t cb) {
        int r = imds_get(g->aws->imds, path, cb, g, &g->imds_req);
        if (r < 0)
                fail(g, REGISTRATION_RETRY, "cannot ask IMDS for %s: %s", path, strerror(-r));
}

/* A single line of printable text, or NULL. */
static char *one_line(const struct imds_result *r) {
        size_t n = strcspn(r->body, "\r\n");
        if (r->error || n == 0 || n > 256)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)r->body[i] < 0x21 || (unsigned char)r->body[i] > 0x7e)
                        return NULL;
        return strndup(r->body, n);
}

static void on_subnet(const struct imds_result *r, void *userdata) {
        struct registration *g = userdata;
        g->imds_req = NULL;
        g->subnet_id = one_line(r);
        if (!g->subnet_id)
                log_warn("IMDS gives no subnet id; ecs.subnet-id will be missing");
        do_register(g);
}

static void on_vpc(const struct imds_result *r, void *userdata) {
        struct registration *g = userdata;
        char path[256];

        g->imds_req = NULL;
        g->vpc_id = one_line(r);
        if (!g->vpc_id)
                log_warn("IMDS gives no VPC id; ecs.vpc-id will be missing");
        snprintf(path, sizeof path, "/latest/meta-data/network/interfaces/macs/%s/subnet-id",
                 g->mac);
        imds_then(g, path, on_subnet);
}

static void on_mac(const struct imds_result *r, void *userdata) {
        struct registration *g = userdata;
        char path[256];

        g->imds_req = NULL;
        g->mac = one_line(r);
        if (!g->mac || strchr(g->mac, '/')) {
                log_warn("IMDS gives no usable MAC address; ecs.vpc-id and ecs.subnet-id will "
                         "be missing");
                do_register(g);
                return;
        }
        snprintf(path, sizeof path, "/latest/meta-data/network/interfaces/macs/%s/vpc-id", g->mac);
        imds_then(g, path, on_vpc);
}

static void on_signature(const struct imds_result *r, void *userdata) {
        struct registration *g = userdata;

        g->imds_req = NULL;
        if (r->error) {
                fail(g, REGISTRATION_RETRY, "%s", r->error_text);
                return;
        }
        g->signature = strndup(r->body, r->body_len);
        if (!g->signature) {
                fail(g, REGISTRATION_RETRY, "out of memory");
                return;
        }
        imds_then(g, "/latest/meta-data/mac", on_mac);
}

static void fetch_signature(struct registration *g) {
        imds_then(g, IDENTITY_SIGNATURE_PATH, on_signature);
}

static void on_cluster_created(const struct ecs_result *res, void *userdata) {
        struct registration *g = userdata;

        g->ecs_call = NULL;
        if (res->error) {
                ecs_failed(g, res);
                return;
        }
        log_info("Created ECS cluster %s in %s", g->cluster, g->aws->region);
        fetch_signature(g); /* a new cluster holds no earlier registration */
}

static void on_clusters(const struct ecs_result *res, void *userdata) {
        struct registration *g = userdata;
        const cJSON *c;
        const char *status;
        cJSON *req;
        int r;

        g->ecs_call = NULL;
        if (res->error) {
                ecs_failed(g, res);
                return;
        }
        c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res->response, "clusters"), 0);
        status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "status"));
        if (c && status && strcmp(status, "INACTIVE") != 0) {
                /* Without saved state (first start, or a lost or corrupt file)
                 * an earlier registration of this instance may exist: adopt
                 * it rather than leave a second container instance behind. */
                list_page(g);
                return;
        }
        if (!g->cluster_unset) {
                fail(g, REGISTRATION_TERMINAL,
                     "ECS cluster %s does not exist in region %s: create it, or set "
                     "ECS_CLUSTER to an existing cluster",
                     g->cluster, g->aws->region);
                return;
        }
        /* ECS_CLUSTER unset: the "default" cluster, created as the agent does. */
        req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "clusterName", g->cluster);
        r = call(g, "CreateCluster", req, on_cluster_created);
        if (r < 0)
                fail(g, REGISTRATION_RETRY, "cannot call CreateCluster: %s", strerror(-r));
}

static void start_register(struct registration *g) {
        cJSON *req;
        int r;

        g->mode = CONFIG_MODE_REGISTER;
        /* The cluster "default", created when missing, is the official agent's
         * rule and register mode's; in auto mode, the packages' default, an
         * unset ECS_CLUSTER is a host nobody has configured yet: registering
         * it (and creating a cluster) is not what installing a package may do. */
        if (g->auto_mode && g->cluster_unset) {
                fail(g, REGISTRATION_UNCONFIGURED,
                     "no cluster configured: ECS_CLUSTER is not set (in /etc/ecs/ecs.config, "
                     "/etc/ecs/ecs-hostd.conf or the environment) and the official agent does "
                     "not answer; set ECS_CLUSTER and reload, or set ECS_HOSTD_MODE=register "
                     "to join the cluster \"default\" as the official agent would");
                return;
        }
        req = cJSON_CreateObject();
        cJSON_AddItemToObject(req, "clusters", cJSON_CreateStringArray(&g->cluster, 1));
        r = call(g, "DescribeClusters", req, on_clusters);
        if (r < 0)
                fail(g, REGISTRATION_RETRY, "cannot call DescribeClusters: %s", strerror(-r));
}

/* ---- companion mode ----------------------------------------------------- */

static void describe_next(struct registration *g);

static void free_arns(struct registration *g) {
        for (size_t i = 0; i < g->n_arns; i++)
                free(g->arns[i]);
        g->arns = mfree(g->arns);
        g->n_arns = g->next_arn = 0;
}

static void on_described(const struct ecs_result *res, void *userdata) {
        struct registration *g = userdata;
        const cJSON *item;

        g->ecs_call = NULL;
        if (res->error) {
                ecs_failed(g, res);
                return;
        }
        /* Emulators ignore the filter: match the instance id ourselves. */
        cJSON_ArrayForEach(item,
                           cJSON_GetObjectItemCaseSensitive(res->response, "containerInstances")) {
                const char *id = cJSON_GetStringValue(
                        cJSON_GetObjectItemCaseSensitive(item, "ec2InstanceId"));
                const char *arn = cJSON_GetStringValue(
                        cJSON_GetObjectItemCaseSensitive(item, "containerInstanceArn"));
                const char *status =
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "status"));
                char buf[400];
                if (id && arn && streq_ptr(id, g->aws->identity.instance_id) &&
                    !streq_ptr(status, "INACTIVE") && !arn_mismatch(g, arn, buf, sizeof buf)) {
                        _cleanup_free_ char *a = strdup(arn);
                        free_arns(g);
                        if (!a) {
                                fail(g, REGISTRATION_RETRY, "out of memory");
                                return;
                        }
                        if (g->mode == CONFIG_MODE_REGISTER)
                                log_info("EC2 instance %s is already registered in cluster %s "
                                         "as %s; reusing it",
                                         g->aws->identity.instance_id, g->cluster, a);
                        else
                                log_info("Found the official agent's registration of %s in "
                                         "cluster %s: %s",
                                         g->aws->identity.instance_id, g->cluster, a);
                        done(g, a, g->cluster, false, status);
                        return;
                }
        }
        describe_next(g);
}

static void describe_next(struct registration *g) {
        cJSON *req, *list;
        size_t end;
        int r;

        if (g->next_arn >= g->n_arns) {
                if (g->next_token) {
                        free_arns(g);
                        list_page(g);
                        return;
                }
                free_arns(g);
                if (g->mode == CONFIG_MODE_REGISTER) {
                        fetch_signature(g); /* no registration of ours to adopt */
                        return;
                }
                fail(g, REGISTRATION_RETRY,
                     "the official agent has not registered EC2 instance %s in cluster %s yet",
                     g->aws->identity.instance_id, g->cluster);
                return;
        }
        end = g->next_arn + DESCRIBE_BATCH < g->n_arns ? g->next_arn + DESCRIBE_BATCH : g->n_arns;
        req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "cluster", g->cluster);
        list = cJSON_AddArrayToObject(req, "containerInstances");
        for (; g->next_arn < end; g->next_arn++)
                cJSON_AddItemToArray(list, cJSON_CreateString(g->arns[g->next_arn]));
        r = call(g, "DescribeContainerInstances", req, on_described);
        if (r < 0)
                fail(g, REGISTRATION_RETRY, "cannot call DescribeContainerInstances: %s",
                     strerror(-r));
}

static void on_listed(const struct ecs_result *res, void *userdata) {
        struct registration *g = userdata;
        const cJSON *arns, *item;
        const char *token;

        g->ecs_call = NULL;
        if (res->error) {
                if (ecs_cluster_not_found(res))
                        fail(g, REGISTRATION_RETRY,
                             "cluster %s does not exist in %s yet (waiting for the official "
                             "agent)",
                             g->cluster, g->aws->region);
                else
                        ecs_failed(g, res);
                return;
        }
        arns = cJSON_GetObjectItemCaseSensitive(res->response, "containerInstanceArns");
        g->arns = calloc((size_t)cJSON_GetArraySize(arns) + 1, sizeof(char *));
        if (!g->arns) {
                fail(g, REGISTRATION_RETRY, "out of memory");
                return;
        }
        cJSON_ArrayForEach(item, arns) if (cJSON_IsString(item)) {
                if (!(g->arns[g->n_arns] = strdup(item->valuestring)))
                        break;
                g->n_arns++;
        }
        token = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res->response, "nextToken"));
        free(g->next_token);
        g->next_token = token && *token ? strdup(token) : NULL;
        describe_next(g);
}

static void list_page(struct registration *g) {
        char filter[128];
        cJSON *req = cJSON_CreateObject();
        int r;

        snprintf(filter, sizeof filter, "ec2InstanceId == %s", g->aws->identity.instance_id);
        cJSON_AddStringToObject(req, "cluster", g->cluster);
        cJSON_AddStringToObject(req, "filter", filter);
        if (g->next_token)
                cJSON_AddStringToObject(req, "nextToken", g->next_token);
        r = call(g, "ListContainerInstances", req, on_listed);
        if (r < 0)
                fail(g, REGISTRATION_RETRY, "cannot call ListContainerInstances: %s", strerror(-r));
}

int registration_parse_introspection(const char *body, size_t len, char **ret_arn,
                                     char **ret_cluster) {
        cJSON *o = cJSON_ParseWithLength(body, len);
        const char *arn, *cluster;
        int r = -EINVAL;

        arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ContainerInstanceArn"));
        cluster = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "Cluster"));
        if (cJSON_IsObject(o)) {
                r = -ENODATA; /* the agent runs but has not registered yet */
                if (arn && strncmp(arn, "arn:", 4) == 0 && strlen(arn) < 2048 && cluster &&
                    *cluster && strlen(cluster) < 2048) {
                        *ret_arn = strdup(arn);
                        *ret_cluster = strdup(cluster);
                        r = *ret_arn && *ret_cluster ? 0 : -ENOMEM;
                        if (r < 0) {
                                *ret_arn = mfree(*ret_arn);
                                *ret_cluster = mfree(*ret_cluster);
                        }
                }
        }
        cJSON_Delete(o);
        return r;
}

static int parse_introspection(const struct http_response *resp, char **ret_arn,
                               char **ret_cluster) {
        if (resp->error || resp->status != 200)
                return -EAGAIN;
        return registration_parse_introspection(resp->body, resp->body_len, ret_arn, ret_cluster);
}

static void start_companion(struct registration *g);

static int on_probe_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct registration *g = userdata;
        (void)s, (void)usec;
        g->timer = sd_event_source_disable_unref(g->timer);
        start_companion(g);
        return 0;
}

static void on_introspection(const struct http_response *resp, void *userdata) {
        struct registration *g = userdata;
        _cleanup_free_ char *arn = NULL, *cluster = NULL;
        int r;

        g->http_call = NULL;
        r = parse_introspection(resp, &arn, &cluster);
        if (g->mode == CONFIG_MODE_AUTO) {
                if (r == -EAGAIN && ++g->probes < AUTO_PROBE_ATTEMPTS) {
                        if (sd_event_add_time_relative(g->aws->event, &g->timer, CLOCK_MONOTONIC,
                                                       AUTO_PROBE_DELAY_USEC, TIMER_ACCURACY_USEC,
                                                       on_probe_timer, g) >= 0)
                                return;
                }
                g->mode = r == -EAGAIN ? CONFIG_MODE_REGISTER : CONFIG_MODE_COMPANION;
                log_info("ECS_HOSTD_MODE=auto: the official agent's introspection endpoint %s; "
                         "using %s mode",
                         r == -EAGAIN ? "does not answer" : "answers", mode_name(g->mode));
                if (g->mode == CONFIG_MODE_REGISTER) {
                        start_register(g);
                        return;
                }
        }
        if (r == 0) {
                /* Whatever answers on that port is believed only once ECS
                 * confirms the ARN is this instance's, in this cluster. */
                if (!streq_ptr(ecs_cluster_name(cluster), ecs_cluster_name(g->cluster))) {
                        char why[400];
                        snprintf(why, sizeof why, "the agent says cluster %s, not %s as configured",
                                 cluster, g->cluster);
                        refuse(g, FROM_AGENT, arn, why);
                        return;
                }
                confirm(g, FROM_AGENT, arn);
                return;
        }
        /* No answer yet (the agent is starting) or not registered yet: ask ECS. */
        list_page(g);
}

static void start_companion(struct registration *g) {
        const char *url = config_string(g->cfg, KEY_ECS_AGENT_INTROSPECTION_URL);
        const char *why = NULL;
        int r;

        r = http_submit(g->aws->http,
                        &(struct http_request){.method = "GET",
                                               .url = url,
                                               .timeout_ms = INTROSPECTION_TIMEOUT_MS,
                                               .connect_timeout_ms = INTROSPECTION_TIMEOUT_MS,
                                               .max_body = 64 * 1024},
                        on_introspection, g, &g->http_call, &why);
        if (r < 0) {
                g->http_call = NULL;
                if (g->mode == CONFIG_MODE_AUTO) {
                        g->mode = CONFIG_MODE_REGISTER;
                        log_warn("ECS_AGENT_INTROSPECTION_URL %s: %s; using register mode", url,
                                 why ?: strerror(-r));
                        start_register(g);
                        return;
                }
                log_warn("ECS_AGENT_INTROSPECTION_URL %s: %s", url, why ?: strerror(-r));
                list_page(g);
        }
}

static void start_mode(struct registration *g) {
        switch (g->mode) {
        case CONFIG_MODE_REGISTER:
                start_register(g);
                return;
        case CONFIG_MODE_COMPANION:
        case CONFIG_MODE_AUTO: /* auto asks the agent first, as companion does */
                start_companion(g);
                return;
        }
}

/* ---- confirming a container instance before adopting it ---------------- *
 * An ARN from the saved state or from the official agent's introspection
 * endpoint (whatever answers on that port) is adopted only when it is a
 * container instance ARN of this account and region in the configured
 * cluster, and DescribeContainerInstances says it is this EC2 instance's and
 * not INACTIVE.  Otherwise it is refused, loudly, and the join goes on
 * without it. */

static const char *source_name(enum adopt_source src) {
        return src == FROM_STATE ? "the saved state" : "the official agent";
}

/* Why arn cannot be this host's, from its text alone; NULL when it may be. */
static const char *arn_mismatch(const struct registration *g, const char *arn, char *buf,
                                size_t size) {
        const char *account = g->aws->identity.account_id;
        struct ecs_arn a;

        if (ecs_arn_parse_container_instance(arn, &a) < 0)
                return "not a container instance ARN";
        if (!streq_ptr(a.region, g->aws->region))
                snprintf(buf, size, "its region is %s, this instance's %s", a.region,
                         g->aws->region);
        else if (account && !streq_ptr(a.account, account))
                snprintf(buf, size, "its account is %s, this instance's %s", a.account, account);
        else if (a.cluster[0] && !streq_ptr(a.cluster, ecs_cluster_name(g->cluster)))
                snprintf(buf, size, "its cluster is %s, not %s as configured", a.cluster,
                         g->cluster);
        else
                return NULL;
        return buf;
}

/* The join without the refused ARN: the saved state is forgotten; after the
 * agent, companion mode keeps looking (ListContainerInstances) and auto
 * mode registers. */
static void without_candidate(struct registration *g, enum adopt_source src) {
        g->candidate = mfree(g->candidate);
        if (src == FROM_STATE) {
                g->have_state = false;
                start_mode(g);
        } else if (g->auto_mode) {
                g->mode = CONFIG_MODE_REGISTER;
                start_register(g);
        } else
                list_page(g);
}

static void refuse(struct registration *g, enum adopt_source src, const char *arn,
                   const char *why) {
        char q[ESCAPE_QUOTE_SIZE(ARN_QUOTE_MAX)];

        log_error("Refusing container instance %s from %s: %s",
                  escape_quote(q, arn, strlen(arn), ARN_QUOTE_MAX, '"'), source_name(src), why);
        without_candidate(g, src);
}

/* ECS's word on the candidate. */
static const char *described_mismatch(const struct registration *g, const cJSON *ci, char *buf,
                                      size_t size) {
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ci, "status"));
        const char *id =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ci, "ec2InstanceId"));

        if (!ci || !status)
                return "unknown to ECS";
        if (strcmp(status, "INACTIVE") == 0)
                return "INACTIVE";
        if (!streq_ptr(id, g->aws->identity.instance_id)) {
                snprintf(buf, size, "ECS says it is EC2 instance %s's, this is %s",
                         id ? id : "(none)", g->aws->identity.instance_id);
                return buf;
        }
        return NULL;
}

static void on_confirmed(const struct ecs_result *res, void *userdata) {
        struct registration *g = userdata;
        enum adopt_source src = g->candidate_source;
        _cleanup_free_ char *arn = TAKE_PTR(g->candidate);
        const char *why;
        const cJSON *ci;
        char buf[300];

        g->ecs_call = NULL;
        if (res->error && res->kind != ECS_ERR_CLIENT) {
                ecs_failed(g, res);
                return;
        }
        if (res->error) {
                refuse(g, src, arn, res->message);
                return;
        }
        ci = cJSON_GetArrayItem(
                cJSON_GetObjectItemCaseSensitive(res->response, "containerInstances"), 0);
        why = described_mismatch(g, ci, buf, sizeof buf);
        if (why && src == FROM_STATE && (!ci || !strcmp(why, "INACTIVE"))) {
                /* What happens to every deregistered instance: not an attack. */
                log_info("The saved container instance %s is %s; joining anew", arn, why);
                without_candidate(g, src);
                return;
        }
        if (why) {
                refuse(g, src, arn, why);
                return;
        }
        if (src == FROM_STATE)
                log_info("Reusing container instance %s in cluster %s (%s)", arn, g->cluster,
                         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ci, "status")));
        else
                log_info("The official agent registered this instance as %s", arn);
        done(g, arn, g->cluster, src == FROM_STATE,
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ci, "status")));
}

static void confirm(struct registration *g, enum adopt_source src, const char *arn) {
        const char *why;
        char buf[400];
        cJSON *req;
        int r;

        why = arn_mismatch(g, arn, buf, sizeof buf);
        if (why) {
                refuse(g, src, arn, why);
                return;
        }
        free(g->candidate);
        g->candidate = strdup(arn);
        g->candidate_source = src;
        if (!g->candidate) {
                fail(g, REGISTRATION_RETRY, "out of memory");
                return;
        }
        req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "cluster", g->cluster);
        cJSON_AddItemToObject(req, "containerInstances",
                              cJSON_CreateStringArray((const char *const *)&g->candidate, 1));
        r = call(g, "DescribeContainerInstances", req, on_confirmed);
        if (r < 0)
                fail(g, REGISTRATION_RETRY, "cannot call DescribeContainerInstances: %s",
                     strerror(-r));
}

int registration_start(struct registration **ret, struct aws_clients *aws, const struct config *cfg,
                       registration_callback_t cb, void *userdata) {
        _cleanup_free_ char *why = NULL;
        struct registration *g;
        int r;

        if (!ret || !aws || !aws->ecs || !aws->have_identity || !cfg || !cb)
                return -EINVAL;
        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->aws = aws;
        g->cfg = cfg;
        g->cb = cb;
        g->userdata = userdata;
        g->cluster = config_string(cfg, KEY_ECS_CLUSTER);
        g->cluster_unset = !config_is_set(cfg, KEY_ECS_CLUSTER);
        g->datadir = config_string(cfg, KEY_ECS_HOSTD_DATADIR);
        g->mode = (enum config_mode)config_enum(cfg, KEY_ECS_HOSTD_MODE);
        g->auto_mode = g->mode == CONFIG_MODE_AUTO;
        *ret = g;

        r = state_load(g->datadir, &g->state, &why);
        if (r == -EBADMSG)
                log_warn("%s", why);
        else if (r < 0 && r != -ENOENT)
                log_warn_errno(r, "Failed to read %s/" STATE_FILE ": %m; starting without it",
                               g->datadir);
        if (r == 0) {
                if (!streq_ptr(g->state.ec2_instance_id, aws->identity.instance_id)) {
                        log_warn("%s/" STATE_FILE " belongs to EC2 instance %s, this is %s "
                                 "(an image baked after registration?); discarding it",
                                 g->datadir, g->state.ec2_instance_id, aws->identity.instance_id);
                        state_done(&g->state);
                } else if (!streq_ptr(g->state.cluster, g->cluster)) {
                        fail(g, REGISTRATION_TERMINAL,
                             "%s/" STATE_FILE " says this instance is registered in cluster "
                             "%s, but ECS_CLUSTER is %s; deregister it from %s and remove "
                             "the file to change clusters",
                             g->datadir, g->state.cluster, g->cluster, g->state.cluster);
                        return 0;
                } else {
                        g->have_state = true;
                        confirm(g, FROM_STATE, g->state.container_instance_arn);
                        return 0;
                }
        }
        start_mode(g);
        return 0;
}

struct registration *registration_free(struct registration *g) {
        if (!g)
                return NULL;
        ecs_call_cancel(g->ecs_call);
        imds_request_cancel(g->imds_req);
        http_call_cancel(g->http_call);
        sd_event_source_disable_unref(g->timer);
        state_done(&g->state);
        free(g->signature);
        free(g->mac);
        free(g->vpc_id);
        free(g->subnet_id);
        free_arns(g);
        free(g->next_token);
        free(g->candidate);
        free(g);
        return NULL;
}

struct state *registration_state(struct registration *g) {
        return g && g->have_state ? &g->state : NULL;
}

struct probe {
        bool done;
        int r;
        char *arn, *cluster;
};

static void on_probe(const struct http_response *resp, void *userdata) {
        struct probe *p = userdata;

        p->done = true;
        p->r = parse_introspection(resp, &p->arn, &p->cluster);
}

int registration_probe_agent(const char *url, unsigned timeout_ms, char **ret_arn) {
        struct probe p = {.r = -EAGAIN};
        struct http *h = NULL;
        sd_event *e = NULL;
        int r;

        r = sd_event_new(&e);
        if (r < 0)
                return r;
        r = http_new(&h, e);
        if (r >= 0)
                r = http_submit(h,
                                &(struct http_request){.method = "GET",
                                                       .url = url,
                                                       .timeout_ms = timeout_ms,
                                                       .connect_timeout_ms = timeout_ms,
                                                       .max_body = 64 * 1024},
                                on_probe, &p, NULL, NULL);
        while (r >= 0 && !p.done)
                r = sd_event_run(e, UINT64_MAX);
        http_free(h);
        sd_event_unref(e);
        free(p.cluster);
        if (r < 0) {
                free(p.arn);
                return r;
        }
        if (p.r == 0 && ret_arn)
                *ret_arn = TAKE_PTR(p.arn);
        free(p.arn);
        return p.r;
}
