/* aws-clients.c: build the AWS clients from the configuration and settle the region.
 * The only place that maps configuration keys onto the clients' settings, so
 * the daemon and the test tools get the same behaviour. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws-clients.h"
#include "escape.h"
#include "macro.h"

/* A bad region from IMDS is quoted in the error up to this many bytes. */
#define REGION_QUOTE_MAX 64

static const char *nonempty(const char *s) {
        return s && *s ? s : NULL;
}

/* The first of an uppercase key and its lowercase spelling that is set. */
static const char *either(const struct config *cfg, enum config_key upper, enum config_key lower) {
        const char *v = nonempty(config_string(cfg, upper));
        return v ? v : nonempty(config_string(cfg, lower));
}

/* The AWS API calls' proxy (ECS, Auto Scaling), as the official agent reads
 * it (Go's httpproxy.FromEnvironment): HTTPS_PROXY for https endpoints, else
 * HTTP_PROXY; NO_PROXY; each uppercase name before its lowercase one.  IMDS
 * and the introspection endpoint never ask for the proxy. */
static int set_proxy(struct http *h, const struct config *cfg) {
        const char *http = either(cfg, KEY_HTTP_PROXY, KEY_http_proxy);
        const char *https = either(cfg, KEY_HTTPS_PROXY, KEY_https_proxy);

        return http_set_proxy(h, &(struct http_proxy){
                                         .http = http,
                                         .https = https ? https : http,
                                         .no_proxy = either(cfg, KEY_NO_PROXY, KEY_no_proxy),
                                 });
}

int aws_clients_new(struct aws_clients **ret, sd_event *event, const struct config *cfg) {
        struct aws_clients *a;
        const char *region;
        int r;

        if (!ret || !event || !cfg)
                return -EINVAL;
        a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(event);

        r = http_new(&a->http, event);
        if (r < 0)
                goto fail;
        r = set_proxy(a->http, cfg);
        if (r < 0)
                goto fail;
        r = imds_new(&a->imds, event, a->http,
                     &(struct imds_config){
                             .endpoint = nonempty(
                                     config_string(cfg, KEY_AWS_EC2_METADATA_SERVICE_ENDPOINT)),
                             .token_ttl = (unsigned)config_int(cfg, KEY_ECS_HOSTD_IMDS_TOKEN_TTL),
                             .v1_fallback = config_bool(cfg, KEY_ECS_HOSTD_IMDS_V1_FALLBACK),
                     });
        if (r < 0)
                goto fail;
        r = credentials_new(
                &a->creds, event, a->imds,
                &(struct credentials_config){
                        .access_key_id = config_string(cfg, KEY_AWS_ACCESS_KEY_ID),
                        .secret_access_key = config_string(cfg, KEY_AWS_SECRET_ACCESS_KEY),
                        .session_token = config_string(cfg, KEY_AWS_SESSION_TOKEN),
                });
        if (r < 0)
                goto fail;

        region = nonempty(config_string(cfg, KEY_AWS_REGION));
        if (!region)
                region = nonempty(config_string(cfg, KEY_AWS_DEFAULT_REGION));
        if (region && !(a->region = strdup(region)))
                goto oom;
        a->region_configured = region != NULL;
        if (nonempty(config_string(cfg, KEY_ECS_BACKEND_HOST)) &&
            !(a->endpoint_override = strdup(config_string(cfg, KEY_ECS_BACKEND_HOST))))
                goto oom;
        a->autoscaling_wanted = nonempty(config_string(cfg, KEY_ECS_HOSTD_ASG_LIFECYCLE_HOOK));
        if (a->autoscaling_wanted &&
            nonempty(config_string(cfg, KEY_AWS_ENDPOINT_URL_AUTO_SCALING)) &&
            !(a->autoscaling_endpoint =
                      strdup(config_string(cfg, KEY_AWS_ENDPOINT_URL_AUTO_SCALING))))
                goto oom;
        *ret = a;
        return 0;
oom:
        r = -ENOMEM;
fail:
        aws_clients_free(a);
        return r;
}

struct aws_clients *aws_clients_free(struct aws_clients *a) {
        if (!a)
                return NULL;
        imds_request_cancel(a->doc_req);
        /* Users before what they use. */
        autoscaling_free(a->autoscaling);
        ecs_free(a->ecs);
        credentials_free(a->creds);
        imds_free(a->imds);
        http_free(a->http);
        identity_done(&a->identity);
        free(a->identity_document);
        free(a->region);
        free(a->endpoint_override);
        free(a->autoscaling_endpoint);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}

static void ready(struct aws_clients *a, int error, const char *text) {
        int r;

        if (error == 0 && !a->ecs) {
                r = ecs_new(&a->ecs, a->event, a->http, a->creds,
                            &(struct ecs_config){.region = a->region,
                                                 .endpoint = a->endpoint_override});
                if (r < 0) {
                        error = r;
                        text = "cannot create the ECS client (bad ECS_BACKEND_HOST?)";
                }
        }
        if (error == 0 && a->autoscaling_wanted && !a->autoscaling) {
                r = autoscaling_new(
                        &a->autoscaling, a->event, a->http, a->creds,
                        &(struct autoscaling_config){.region = a->region,
                                                     .endpoint = a->autoscaling_endpoint});
                if (r < 0) {
                        error = r;
                        text = "cannot create the Auto Scaling client (bad "
                               "AWS_ENDPOINT_URL_AUTO_SCALING?)";
                }
        }
        a->ready_cb(a, error, text, a->ready_userdata);
}

static void on_document(const struct imds_result *res, void *userdata) {
        struct aws_clients *a = userdata;
        _cleanup_free_ char *why = NULL;
        char text[512];
        int r;

        a->doc_req = NULL;
        if (res->error) {
                /* Off EC2 (or IMDS blocked) a configured region is enough. */
                if (a->region) {
                        ready(a, 0, NULL);
                        return;
                }
                snprintf(text, sizeof text,
                         "cannot read the instance identity document (%s) and no AWS_REGION is set",
                         res->error_text);
                ready(a, res->error, text);
                return;
        }
        identity_done(&a->identity);
        r = identity_parse(res->body, res->body_len, &a->identity, &why);
        if (r < 0) {
                snprintf(text, sizeof text, "%s", why ? why : "bad identity document");
                ready(a, r, text);
                return;
        }
        free(a->identity_document);
        a->identity_document = strndup(res->body, res->body_len);
        if (!a->identity_document) {
                ready(a, -ENOMEM, "out of memory");
                return;
        }
        a->have_identity = true;
        if (!a->region) {
                /* The region names the endpoint the keys are sent to: it obeys
                 * AWS_REGION's rule, wherever it comes from. */
                if (!config_region_valid(a->identity.region)) {
                        char q[ESCAPE_QUOTE_SIZE(REGION_QUOTE_MAX)];
                        snprintf(text, sizeof text,
                                 "the instance identity document's region %s is not a region "
                                 "name (e.g. us-east-1); set AWS_REGION",
                                 escape_quote(q, a->identity.region, strlen(a->identity.region),
                                              REGION_QUOTE_MAX, '"'));
                        ready(a, -EINVAL, text);
                        return;
                }
                if (!(a->region = strdup(a->identity.region))) {
                        ready(a, -ENOMEM, "out of memory");
                        return;
                }
        }
        ready(a, 0, NULL);
}

int aws_clients_start(struct aws_clients *a, aws_clients_ready_t cb, void *userdata) {
        if (!a || !cb)
                return -EINVAL;
        a->ready_cb = cb;
        a->ready_userdata = userdata;
        imds_request_cancel(a->doc_req);
        a->doc_req = NULL;
        return imds_get(a->imds, IDENTITY_DOCUMENT_PATH, on_document, a, &a->doc_req);
}

const char *aws_clients_region_source(const struct aws_clients *a) {
        return a && a->region_configured ? "the configuration" : "the instance identity document";
}
