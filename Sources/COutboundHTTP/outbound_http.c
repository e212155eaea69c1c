#define _GNU_SOURCE
#include "outbound_http.h"
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TS_MAX_HEADER_BYTES (64 * 1024)

typedef struct ts_request {
    struct ts_request *next;
    CURL *easy;
    struct curl_slist *headers;
    char *body;                /* request body (owned) */
    int64_t deadline_ns;
    size_t max_body;
    bool too_large;
    ts_http_result *result;
} ts_request;

struct ts_http_client {
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock;
    ts_http_done done;
    void *context;
    int max_active, max_queued;
    int active, queued;
    bool stopping;
    bool frees_itself;                     /* freed from a completion on its own thread: the thread frees it */
    bool wake_pending;                     /* a wake-up is on its way: submitters need not send another */
    ts_request *queue_head, *queue_tail;   /* submitted, not yet on the multi handle */
    ts_request *running;                   /* on the multi handle (singly linked) */
};

static void destroy(ts_http_client *c);

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool append(char **buf, size_t *len, const char *data, size_t n) {
    char *grown = realloc(*buf, *len + n + 1);
    if (!grown) return false;
    memcpy(grown + *len, data, n);
    *len += n;
    grown[*len] = 0;
    *buf = grown;
    return true;
}

static size_t on_body(char *data, size_t size, size_t count, void *user) {
    ts_request *r = user;
    size_t n = size * count;
    if (r->result->body_len + n > r->max_body) { r->too_large = true; return 0; }
    return append(&r->result->body, &r->result->body_len, data, n) ? n : 0;
}

static size_t on_header(char *data, size_t size, size_t count, void *user) {
    ts_request *r = user;
    ts_http_result *res = r->result;
    size_t n = size * count;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 1xx): start its header block afresh. */
        free(res->headers); res->headers = NULL; res->headers_len = 0;
        free(res->status_line);
        size_t line = n;
        while (line > 0 && (data[line - 1] == '\n' || data[line - 1] == '\r')) line--;
        res->status_line = strndup(data, line);
        return n;
    }
    if (res->headers_len + n > TS_MAX_HEADER_BYTES) { r->too_large = true; return 0; }
    return append(&res->headers, &res->headers_len, data, n) ? n : 0;
}

static void free_request(ts_request *r) {
    if (r->easy) curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r);
}

void ts_http_result_free(ts_http_result *result) {
    if (!result) return;
    free(result->status_line);
    free(result->headers);
    free(result->body);
    free(result);
}

/* Hands the outcome to the owner; once the client is stopping there is nobody to tell (its owner is
   gone or going, and answers what it still waits for itself). */
static void finish(ts_http_client *c, ts_request *r, int error, const char *message) {
    r->result->error = error;
    if (message) snprintf(r->result->message, sizeof r->result->message, "%s", message);
    ts_http_result *result = r->result;
    r->result = NULL;
    free_request(r);
    pthread_mutex_lock(&c->lock);
    bool stopping = c->stopping;
    pthread_mutex_unlock(&c->lock);
    if (stopping) ts_http_result_free(result);
    else c->done(c->context, result);
}

static int map_error(ts_request *r, CURLcode code) {
    if (r->too_large || code == CURLE_FILESIZE_EXCEEDED) return TS_HTTP_TOO_LARGE;
    switch (code) {
    case CURLE_OK: return TS_HTTP_OK;
    case CURLE_OPERATION_TIMEDOUT: return TS_HTTP_TIMEOUT;
    case CURLE_COULDNT_CONNECT: return TS_HTTP_REFUSED;
    case CURLE_COULDNT_RESOLVE_HOST: return TS_HTTP_DNS;
    case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE: return TS_HTTP_RESET;
    case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE: return TS_HTTP_TLS;
    default: return TS_HTTP_OTHER;
    }
}

/* Moves queued requests onto the multi handle while there is room; those past their deadline end. */
static void start_queued(ts_http_client *c) {
    for (;;) {
        pthread_mutex_lock(&c->lock);
        ts_request *r = NULL;
        if (c->queue_head && c->active < c->max_active) {
            r = c->queue_head;
            c->queue_head = r->next;
            if (!c->queue_head) c->queue_tail = NULL;
            c->queued--;
            c->active++;
        }
        pthread_mutex_unlock(&c->lock);
        if (!r) return;
        int64_t left_ms = (r->deadline_ns - now_ns()) / 1000000;
        if (left_ms <= 0 || curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)left_ms) != CURLE_OK ||
            curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
            pthread_mutex_lock(&c->lock); c->active--; pthread_mutex_unlock(&c->lock);
            finish(c, r, TS_HTTP_TIMEOUT, "timeout exceeded while queued");
            continue;
        }
        r->next = c->running;
        c->running = r;
    }
}

static void *run(void *arg) {
    ts_http_client *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        bool stopping = c->stopping;
        c->wake_pending = false;
        pthread_mutex_unlock(&c->lock);
        if (stopping) break;
        start_queued(c);
        int still = 0;
        curl_multi_perform(c->multi, &still);
        CURLMsg *msg;
        int left = 0;
        while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            ts_request *r = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            if (!r) continue;
            CURLcode code = msg->data.result;
            curl_multi_remove_handle(c->multi, r->easy);
            for (ts_request **p = &c->running; *p; p = &(*p)->next) if (*p == r) { *p = r->next; break; }
            pthread_mutex_lock(&c->lock); c->active--; pthread_mutex_unlock(&c->lock);
            long status = 0;
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
            r->result->status = status;
            finish(c, r, map_error(r, code), code == CURLE_OK ? NULL : curl_easy_strerror(code));
        }
        curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
    }
    pthread_mutex_lock(&c->lock);
    bool frees_itself = c->frees_itself;
    pthread_mutex_unlock(&c->lock);
    if (frees_itself) destroy(c);
    return NULL;
}

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

ts_http_client *ts_http_client_new(ts_http_done done, void *context, int max_active, int max_queued) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    ts_http_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->multi = curl_multi_init();
    if (!c->multi) { free(c); return NULL; }
    c->max_active = max_active > 0 ? max_active : 1;
    // Keep as many idle connections as transfers may run, so a steady stream of calls reuses them.
    if (curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_active) != CURLM_OK) {
        curl_multi_cleanup(c->multi);
        free(c);
        return NULL;
    }
    c->done = done;
    c->context = context;
    c->max_queued = max_queued >= 0 ? max_queued : 0;
    pthread_mutex_init(&c->lock, NULL);
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        curl_multi_cleanup(c->multi);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    return c;
}

#define SET(opt, value) ok = ok && curl_easy_setopt(easy, opt, value) == CURLE_OK

int ts_http_submit(ts_http_client *c, int64_t tag, const char *method, const char *url, const char *const *headers,
                   const char *body, size_t body_len, long timeout_ms, size_t max_body_bytes) {
    ts_request *r = calloc(1, sizeof *r);
    if (!r) return TS_HTTP_OTHER;
    r->result = calloc(1, sizeof *r->result);
    r->easy = curl_easy_init();
    if (!r->result || !r->easy) { ts_http_result_free(r->result); r->result = NULL; free_request(r); return TS_HTTP_OTHER; }
    r->result->tag = tag;
    r->max_body = max_body_bytes;
    r->deadline_ns = now_ns() + (int64_t)timeout_ms * 1000000LL;
    CURL *easy = r->easy;
    bool ok = true;
    for (const char *const *h = headers; h && *h; h++) {
        struct curl_slist *grown = curl_slist_append(r->headers, *h);
        if (!grown) { ok = false; break; }
        r->headers = grown;
    }
    struct curl_slist *expect = ok ? curl_slist_append(r->headers, "Expect:") : NULL;  /* no 100-continue round trip */
    if (expect) r->headers = expect; else ok = false;
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body_bytes);
    SET(CURLOPT_USERAGENT, "tokenservice-pipeline");
    SET(CURLOPT_HTTPHEADER, r->headers);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, r);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, r);
    SET(CURLOPT_PRIVATE, (char *)r);
    if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        SET(CURLOPT_CUSTOMREQUEST, method);
    }
    if (body) {
        r->body = malloc(body_len + 1);
        if (!r->body) ok = false;
        else {
            memcpy(r->body, body, body_len);
            SET(CURLOPT_POSTFIELDS, r->body);
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
    }
    if (!ok) { ts_http_result_free(r->result); r->result = NULL; free_request(r); return TS_HTTP_OTHER; }
    pthread_mutex_lock(&c->lock);
    int rc = c->stopping ? TS_HTTP_ABORTED : c->queued >= c->max_queued && c->active >= c->max_active ? TS_HTTP_OVERLOADED : 0;
    if (rc == 0) {
        if (c->queue_tail) c->queue_tail->next = r; else c->queue_head = r;
        c->queue_tail = r;
        c->queued++;
    }
    /* Every transfer is polled on each turn of the client's loop: a burst of submissions wakes it once. */
    bool wake = rc == 0 && !c->wake_pending;
    if (wake) c->wake_pending = true;
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) { ts_http_result_free(r->result); r->result = NULL; free_request(r); return rc; }
    if (wake) curl_multi_wakeup(c->multi);
    return 0;
}

/* Called from a completion on the client's own thread (its owner's last reference was dropped there),
   it cannot wait for that thread: the thread frees the client when its loop ends, and until then
   calls nobody (see finish). */
void ts_http_client_free(ts_http_client *c) {
    if (!c) return;
    bool own_thread = pthread_equal(pthread_self(), c->thread);
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    c->frees_itself = own_thread;
    pthread_mutex_unlock(&c->lock);
    curl_multi_wakeup(c->multi);
    if (own_thread) {
        pthread_detach(c->thread);
        return;
    }
    pthread_join(c->thread, NULL);
    destroy(c);
}

static void destroy(ts_http_client *c) {
    for (ts_request *r = c->running, *next; r; r = next) {
        next = r->next;
        curl_multi_remove_handle(c->multi, r->easy);
        ts_http_result_free(r->result); r->result = NULL;
        free_request(r);
    }
    for (ts_request *r = c->queue_head, *next; r; r = next) {
        next = r->next;
        ts_http_result_free(r->result); r->result = NULL;
        free_request(r);
    }
    curl_multi_cleanup(c->multi);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
