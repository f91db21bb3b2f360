/* imds-floor: the benchmark's measuring stick for the watcher's CPU per poll.
 * It reads the same IMDS paths on the same rhythm as watcher/watcher.c
 * (instance-action and the Auto Scaling state every poll; rebalance and
 * termination-time every 5th; maintenance every 10th) with IMDSv2, and does
 * nothing else, in one of two ways:
 *   curl  libcurl's blocking easy interface on one reused handle: the least a
 *         daemon built on libcurl can spend;
 *   raw   one socket, a fixed request written and the answer read up to its
 *         Content-Length: what the reads cost the kernel alone.
 * It prints the process's CPU time per poll.  Not part of ecs-hostd.
 *   imds-floor curl|raw http://127.0.0.1:PORT INTERVAL_MS POLLS */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_HEADER "X-aws-ec2-metadata-token"

static const struct {
        const char *path;
        unsigned every;
} reads[] = {
        {"/latest/meta-data/spot/instance-action", 1},
        {"/latest/meta-data/autoscaling/target-lifecycle-state", 1},
        {"/latest/meta-data/events/recommendations/rebalance", 5},
        {"/latest/meta-data/spot/termination-time", 5},
        {"/latest/meta-data/events/maintenance/scheduled", 10},
};

static double cpu_seconds(void) {
        struct timespec t;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct buf {
        char data[65536];
        size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *userdata) {
        struct buf *b = userdata;
        size_t k = size * n;

        if (b->len + k >= sizeof b->data)
                return 0;
        memcpy(b->data + b->len, p, k);
        b->len += k;
        b->data[b->len] = 0;
        return k;
}

/* --- curl ---------------------------------------------------------------- */
static CURL *easy;
static struct curl_slist *token_hdr;
static struct buf body;

static int curl_get(const char *base, const char *path) {
        char url[512];
        long status = 0;

        snprintf(url, sizeof url, "%s%s", base, path);
        body.len = 0;
        curl_easy_setopt(easy, CURLOPT_URL, url);
        if (curl_easy_perform(easy) != CURLE_OK)
                return -1;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        return (int)status;
}

static int curl_setup(const char *base) {
        struct curl_slist *put = curl_slist_append(NULL, TOKEN_HEADER "-ttl-seconds: 21600");
        char hdr[4096];
        long status = 0;
        char url[512];

        easy = curl_easy_init();
        if (!easy || !put)
                return -1;
        snprintf(url, sizeof url, "%s/latest/api/token", base);
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, put);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 1000L);
        if (curl_easy_perform(easy) != CURLE_OK)
                return -1;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(put);
        if (status != 200)
                return -1;
        snprintf(hdr, sizeof hdr, TOKEN_HEADER ": %.1000s", body.data);
        token_hdr = curl_slist_append(NULL, hdr);
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, token_hdr);
        return token_hdr ? 0 : -1;
}

/* --- raw ----------------------------------------------------------------- */
static int sock = -1;
static char host[64], token[1024];

/* One request, one answer read to its end; returns the status. */
static int raw_exchange(const char *req, size_t len) {
        size_t got = 0, need = 0;
        char *end, *cl;

        if (send(sock, req, len, MSG_NOSIGNAL) != (ssize_t)len)
                return -1;
        for (;;) {
                ssize_t n = recv(sock, body.data + got, sizeof body.data - 1 - got, 0);

                if (n <= 0)
                        return -1;
                got += (size_t)n;
                body.data[got] = 0;
                end = strstr(body.data, "\r\n\r\n");
                if (!end)
                        continue;
                if (!need) {
                        cl = strcasestr(body.data, "\r\nContent-Length:");
                        need = (size_t)(end + 4 - body.data) +
                               (cl ? strtoul(cl + 17, NULL, 10) : 0);
                }
                if (got >= need)
                        break;
        }
        body.len = got;
        return atoi(body.data + 9);
}

static int raw_get(const char *base, const char *path) {
        char req[2048];
        int n;

        (void)base;
        n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n" TOKEN_HEADER ": %s\r\n\r\n",
                     path, host, token);
        return raw_exchange(req, (size_t)n);
}

static int raw_setup(const char *base) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        char req[512], *body_start;
        int one = 1, port, n;

        if (sscanf(base, "http://127.0.0.1:%d", &port) != 1)
                return -1;
        snprintf(host, sizeof host, "127.0.0.1:%d", port);
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sock = socket(AF_INET, SOCK_STREAM, 0);
        if (sock < 0 || setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
            connect(sock, (struct sockaddr *)&a, sizeof a) < 0)
                return -1;
        n = snprintf(req, sizeof req,
                     "PUT /latest/api/token HTTP/1.1\r\nHost: %s\r\n" TOKEN_HEADER
                     "-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n",
                     host);
        if (raw_exchange(req, (size_t)n) != 200)
                return -1;
        body_start = strstr(body.data, "\r\n\r\n") + 4;
        snprintf(token, sizeof token, "%.1000s", body_start);
        return 0;
}

int main(int argc, char **argv) {
        int (*get)(const char *, const char *);
        long interval_ms, polls;
        struct timespec next;
        double c0 = 0;
        unsigned reqs = 0;

        if (argc != 5 || (strcmp(argv[1], "curl") != 0 && strcmp(argv[1], "raw") != 0)) {
                fprintf(stderr,
                        "usage: imds-floor curl|raw http://127.0.0.1:PORT INTERVAL_MS POLLS\n");
                return 2;
        }
        interval_ms = atol(argv[3]);
        polls = atol(argv[4]);
        if (interval_ms <= 0 || polls <= 0)
                return 2;
        if (strcmp(argv[1], "curl") == 0) {
                curl_global_init(CURL_GLOBAL_DEFAULT);
                get = curl_get;
                if (curl_setup(argv[2]) < 0) {
                        fprintf(stderr, "imds-floor: cannot get an IMDSv2 token with libcurl\n");
                        return 1;
                }
        } else {
                get = raw_get;
                if (raw_setup(argv[2]) < 0) {
                        fprintf(stderr,
                                "imds-floor: cannot get an IMDSv2 token over a socket: %m\n");
                        return 1;
                }
        }

        clock_gettime(CLOCK_MONOTONIC, &next);
        /* Poll 0 warms up (connection, first allocations) and is not counted. */
        for (long poll = 0; poll <= polls; poll++) {
                if (poll == 1)
                        c0 = cpu_seconds();
                for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
                        int status;

                        if (poll % reads[i].every != 0)
                                continue;
                        status = get(argv[2], reads[i].path);
                        if (status != 200 && status != 404) {
                                fprintf(stderr, "imds-floor: %s answered %d\n", reads[i].path,
                                        status);
                                return 1;
                        }
                        reqs += poll > 0;
                }
                next.tv_nsec += interval_ms % 1000 * 1000000;
                next.tv_sec += interval_ms / 1000 + next.tv_nsec / 1000000000;
                next.tv_nsec %= 1000000000;
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
                        ;
        }
        printf("%s %.4f ms per poll, %u reads in %ld polls\n", argv[1],
               (cpu_seconds() - c0) * 1000 / (double)polls, reqs, polls);
        return 0;
}
