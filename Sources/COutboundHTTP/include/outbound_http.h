#ifndef TOKENSERVICE_OUTBOUND_HTTP_H
#define TOKENSERVICE_OUTBOUND_HTTP_H
#include <stddef.h>
#include <stdint.h>

/// Outbound HTTP for pipeline functions, over libcurl's multi interface on one thread of its own:
/// nothing waits on the network but that thread. Redirects are never followed, proxies from the
/// environment are ignored, only http and https are spoken, TLS is verified against the system store.

enum {
    TS_HTTP_OK = 0,
    TS_HTTP_TIMEOUT = 1,      /* the deadline passed (in the queue or on the wire) */
    TS_HTTP_REFUSED = 2,      /* connection refused / could not connect */
    TS_HTTP_RESET = 3,        /* connection reset, closed or nothing received */
    TS_HTTP_TOO_LARGE = 4,    /* the response body or headers passed their bound */
    TS_HTTP_DNS = 5,          /* the host name did not resolve */
    TS_HTTP_TLS = 6,          /* TLS handshake or certificate verification failed */
    TS_HTTP_OVERLOADED = 7,   /* the queue of waiting requests is full */
    TS_HTTP_ABORTED = 8,      /* the client shut down */
    TS_HTTP_OTHER = 9,
};

typedef struct ts_http_result {
    int64_t tag;
    int error;                 /* TS_HTTP_* */
    long status;
    char *status_line;         /* "HTTP/1.1 200 OK" of the final response, NUL-terminated, or NULL */
    char *headers;             /* the final response's header lines, each ending in \n */
    size_t headers_len;
    char *body;
    size_t body_len;
    char message[256];         /* what went wrong, for the error's message */
} ts_http_result;

/// Called on the client's thread for every submitted request, exactly once. The callee owns
/// `result` and frees it with ts_http_result_free.
typedef void (*ts_http_done)(void *context, ts_http_result *result);

typedef struct ts_http_client ts_http_client;

/// A client running at most `max_active` transfers at once, with at most `max_queued` more waiting.
ts_http_client *ts_http_client_new(ts_http_done done, void *context, int max_active, int max_queued);

/// Queues a request; `headers` is a NULL-terminated list of "Name: value" lines. The deadline counts
/// from now, queueing included. Returns 0, or TS_HTTP_OVERLOADED / TS_HTTP_ABORTED (no callback then).
int ts_http_submit(ts_http_client *client, int64_t tag, const char *method, const char *url, const char *const *headers,
                   const char *body, size_t body_len, long timeout_ms, size_t max_body_bytes);

/// Stops the thread and frees the client. Requests not finished get no callback. Called from a callback
/// (on the client's own thread), it returns at once and the thread frees the client as it ends.
void ts_http_client_free(ts_http_client *client);

void ts_http_result_free(ts_http_result *result);
#endif
