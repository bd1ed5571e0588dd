/*
 * http: blocking HTTP requests through libcurl with timeouts, a byte cap and
 * a streaming sink.  See http.h for the contract.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buckets/http.h"
#include "base/banned.h"

#define DEFAULT_MAX_BYTES (1024 * 1024)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

/*
 * One connection cache, DNS cache and TLS session cache for the process,
 * once http_keep_connections() asked for it: a long-lived poller asks the
 * same bucket every few seconds, and each request then reuses the
 * connection the previous one left open (no TCP or TLS handshake, one round
 * trip per unchanged poll).  One-shot jobs keep a connection per request,
 * closed with it, as they always did.  libcurl calls the lock functions from
 * any thread.
 */
static CURLSH *share;
static bool keep_connections;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

void http_keep_connections(void)
{
        keep_connections = true;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
        (void)h;
        (void)access;
        (void)ctx;
        if (data < CURL_LOCK_DATA_LAST)
                pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
        (void)h;
        (void)ctx;
        if (data < CURL_LOCK_DATA_LAST)
                pthread_mutex_unlock(&share_locks[data]);
}

static void global_init(void)
{
        /* Not thread-safe itself, hence the once; the process never calls cleanup. */
        (void)curl_global_init(CURL_GLOBAL_DEFAULT);
        if (!keep_connections)
                return;
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
                pthread_mutex_init(&share_locks[i], NULL);
        share = curl_share_init();
        if (!share)
                return; /* every request then opens its own connection, as before */
        (void)curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
        (void)curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        (void)curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        (void)curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        (void)curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

void http_response_init(struct http_response *r)
{
        memset(r, 0, sizeof(*r));
        buf_init(&r->body);
}

void http_response_release(struct http_response *r)
{
        /* Bodies may hold tokens or secrets: wipe before freeing. */
        if (r->body.cap)
                explicit_bzero(r->body.data, r->body.cap);
        buf_release(&r->body);
        http_response_init(r);
}

struct transfer {
        CURL *curl;
        const struct http_request *req;
        struct http_response *resp;
        uint64_t max_bytes;
        int error; /* why the write callback aborted */
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct transfer *t = userdata;
        size_t len = size * nmemb;
        long status = 0;

        (void)curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status > 299) {
                /* An error document: keep its head for the message, drop the rest. */
                if (t->resp->body.len < HTTP_ERROR_BODY_MAX) {
                        size_t room = HTTP_ERROR_BODY_MAX - t->resp->body.len;
                        buf_append(&t->resp->body, data, len < room ? len : room);
                }
                return len;
        }
        if (t->resp->body_bytes + len > t->max_bytes) {
                t->error = -EFBIG;
                return 0;
        }
        t->resp->body_bytes += len;
        if (t->req->on_data) {
                int r = t->req->on_data(t->req->ctx, data, len);
                if (r < 0) {
                        t->error = r;
                        return 0;
                }
        } else {
                buf_append(&t->resp->body, data, len);
        }
        return len;
}

/* Copy a header value (trimmed) into dst when `line` is "name: value". */
static void header_value(const char *line, size_t len, const char *name, char *dst, size_t n)
{
        size_t nl = strlen(name);
        const char *v, *end = line + len;

        if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
                return;
        v = line + nl + 1;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
        if ((size_t)(end - v) >= n) {
                dst[0] = '\0'; /* too long to be ours to echo back: treat as absent */
                return;
        }
        memcpy(dst, v, (size_t)(end - v));
        dst[end - v] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct transfer *t = userdata;
        size_t len = size * nmemb;

        /* A new status line (after 100 Continue, say) starts a new header block. */
        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                t->resp->etag[0] = '\0';
                t->resp->generation[0] = '\0';
                return len;
        }
        header_value(data, len, "etag", t->resp->etag, sizeof(t->resp->etag));
        header_value(data, len, "x-goog-generation", t->resp->generation,
                     sizeof(t->resp->generation));
        return len;
}

static int map_curl_error(CURLcode rc, int write_error)
{
        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_WRITE_ERROR:
                return write_error ? write_error : -EIO;
        case CURLE_FILESIZE_EXCEEDED:
                return -EFBIG;
        default:
                return -EIO;
        }
}

int http_sink_fd(void *ctx, const void *data, size_t len)
{
        int fd = *(const int *)ctx;
        const char *p = data;

        while (len > 0) {
                ssize_t w = write(fd, p, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

void http_url_encode(struct buf *out, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~') {
                        buf_putc(out, (char)c);
                } else {
                        buf_putc(out, '%');
                        buf_putc(out, hex[c >> 4]);
                        buf_putc(out, hex[c & 15]);
                }
        }
}

int http_perform(const struct http_request *req, struct http_response *resp, struct buf *err)
{
        const char *method = req->method ? req->method : "GET";
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *headers = NULL, *connect_to = NULL;
        struct buf inm = BUF_INIT;
        struct transfer t;
        CURLcode rc;
        int r = 0;

        (void)pthread_once(&global_once, global_init);
        memset(&t, 0, sizeof(t));
        t.req = req;
        t.resp = resp;
        t.max_bytes = req->max_bytes ? req->max_bytes : DEFAULT_MAX_BYTES;
        resp->status = 0;
        resp->etag[0] = '\0';
        resp->generation[0] = '\0';
        resp->body_bytes = 0;
        buf_reset(&resp->body);

        t.curl = curl_easy_init();
        if (!t.curl) {
                buf_printf(err, "%s %s: cannot initialise libcurl", method, req->url);
                return -ENOMEM;
        }
        for (const char *const *h = req->headers; h && *h; h++)
                headers = curl_slist_append(headers, *h);
        if (!str_empty(req->if_none_match)) {
                buf_printf(&inm, "If-None-Match: %s", req->if_none_match);
                headers = curl_slist_append(headers, inm.data);
        }
        /*
         * No "Expect:" suppression header here: libcurl's SigV4 signer would sign
         * the empty header that is never sent.  Bodies stay far below the 1 MiB
         * at which libcurl starts a 100-continue round trip.
         */

        curl_easy_setopt(t.curl, CURLOPT_URL, req->url);
        if (share)
                curl_easy_setopt(t.curl, CURLOPT_SHARE, share);
        curl_easy_setopt(t.curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(t.curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t.curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(t.curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(t.curl, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(t.curl, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(t.curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(t.curl, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(t.curl, CURLOPT_USERAGENT, "deployex/" DEPLOYEX_VERSION);
        curl_easy_setopt(t.curl, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(req->connect_timeout_ms ? req->connect_timeout_ms
                                                        : HTTP_CONNECT_TIMEOUT_MS));
        if (req->timeout_ms)
                curl_easy_setopt(t.curl, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
        if (req->low_speed_secs > 0) {
                curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_LIMIT, req->low_speed_bytes);
                curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_TIME, req->low_speed_secs);
        }
        if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
                curl_easy_setopt(t.curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
                curl_easy_setopt(t.curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
        if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
                curl_easy_setopt(t.curl, CURLOPT_CUSTOMREQUEST, method);
        if (req->aws_sigv4) {
                curl_easy_setopt(t.curl, CURLOPT_AWS_SIGV4, req->aws_sigv4);
                curl_easy_setopt(t.curl, CURLOPT_USERPWD, req->userpwd);
        }

        if (req->connect_to) {
                connect_to = curl_slist_append(NULL, req->connect_to);
                curl_easy_setopt(t.curl, CURLOPT_CONNECT_TO, connect_to);
        }

        rc = curl_easy_perform(t.curl);
        (void)curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &resp->status);
        if (rc != CURLE_OK) {
                r = map_curl_error(rc, t.error);
                if (r == -EFBIG)
                        buf_printf(err, "%s %s: larger than %llu bytes", method, req->url,
                                   (unsigned long long)t.max_bytes);
                else if (t.error && r == t.error)
                        buf_printf(err, "%s %s: %s", method, req->url, strerror(-r));
                else
                        buf_printf(err, "%s %s: %s", method, req->url,
                                   errbuf[0] ? errbuf : curl_easy_strerror(rc));
        }
        /* Credentials were copied into the handle: free it before anything else happens. */
        curl_easy_cleanup(t.curl);
        curl_slist_free_all(headers);
        curl_slist_free_all(connect_to);
        buf_release(&inm);
        return r;
}
