/* fuzz-sigv4: request.txt bytes through the parser, the signer and the
 * signed-request formatter.  The first byte picks the signing options, so
 * every path (header or query signing, S3 or not, normalized or not, token
 * signed or omitted) sees arbitrary methods, paths, queries and headers.
 * Invariant checked: no crash, no leak, and a successful signature is 64 hex. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        uint8_t flags = data[0];
        struct sigv4_message *m = NULL;
        if (sigv4_message_parse(&m, data + 1, size - 1, NULL) < 0)
                return 0;

        struct sigv4_params p = {
                .access_key_id = "AKIDEXAMPLE",
                .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                .session_token = (flags & 1) ? "token/+=" : NULL,
                .region = "us-east-1",
                .service = (flags & 2) ? "s3" : "service",
                .when = (flags & 4) ? (time_t)1440938160 : (time_t)253402300799,
                .location = (flags & 8) ? SIGV4_IN_QUERY : SIGV4_IN_HEADERS,
                .expires = 3600,
                .normalize_path = flags & 16,
                .sign_body = flags & 32,
                .omit_session_token = flags & 64,
        };
        struct sigv4_result r = {};
        if (sigv4_sign(&m->request, &p, &r) == 0) {
                assert(r.signature && strlen(r.signature) == 64);
                assert(strspn(r.signature, "0123456789abcdef") == 64);
                char *out = NULL;
                size_t len = 0;
                if (sigv4_message_format_signed(m, &r, &out, &len) == 0) {
                        assert(out && strlen(out) <= len);
                        free(out);
                }
        }
        sigv4_result_done(&r);
        sigv4_message_free(m);
        return 0;
}
