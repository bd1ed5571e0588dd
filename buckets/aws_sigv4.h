/*
 * aws_sigv4: AWS Signature Version 4 requests (S3 and Secrets Manager).
 *
 * The signature itself is computed by libcurl (CURLOPT_AWS_SIGV4).  libcurl
 * 7.88 signs correctly only when the URL is already canonical (RFC 3986
 * encoded path, sorted query) and it adds no x-amz-content-sha256; this module
 * supplies both: canonical object URLs, the payload hash header and the
 * session token header, then runs the request through http_perform().
 *
 * Calling sequence: aws_creds_get() (aws_creds.h) -> aws_s3_object_url() ->
 * aws_sigv4_perform() -> aws_creds_release().
 */
#ifndef DEPLOYEX_AWS_SIGV4_H
#define DEPLOYEX_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#include "buckets/aws_creds.h"
#include "buckets/http.h"
#include "base/util.h"

/* sha256 of the empty string: the payload hash of a GET. */
#define AWS_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define AWS_DEFAULT_REGION "us-east-1"

/* sha256 as 64 lowercase hex digits. */
void aws_sha256_hex(const void *data, size_t len, char ret[65]);

/*
 * RFC 3986 percent-encoding as SigV4 wants it: A-Z a-z 0-9 - . _ ~ are kept,
 * every other byte becomes %XX (uppercase); '/' is kept when keep_slash.
 */
void aws_uri_encode(struct buf *out, const char *s, bool keep_slash);

/*
 * The URL of an object.  With endpoint (s3_endpoint, S3-compatible stores,
 * tests): path style, "ENDPOINT/BUCKET/KEY".  Without: virtual-hosted style,
 * "https://BUCKET.s3.REGION.amazonaws.com/KEY", except for bucket names with a
 * dot, which a wildcard certificate cannot cover: path style on
 * "https://s3.REGION.amazonaws.com".  The key is encoded with aws_uri_encode.
 */
void aws_s3_object_url(const char *endpoint, const char *region, const char *bucket,
                       const char *key, struct buf *out);

/*
 * The region in force: the configured one, else $AWS_REGION, else
 * $AWS_DEFAULT_REGION, else us-east-1.
 */
const char *aws_region_or_default(const char *configured);

/*
 * Sign req with creds for region/service and perform it.  req->headers may
 * carry extra headers (they are signed too); req->aws_sigv4 and
 * req->userpwd are set here.  Same returns as http_perform().
 */
int aws_sigv4_perform(const struct aws_creds *creds, const char *region, const char *service,
                      const struct http_request *req, struct http_response *resp, struct buf *err);

/*
 * The <Code> and <Message> of an S3 XML error document, or a JSON "__type" /
 * "message" of the AWS JSON protocols, as "Code: Message" into out; nothing
 * when the body has neither.
 */
void aws_error_summary(const char *body, struct buf *out);

#endif
