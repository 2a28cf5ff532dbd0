#!/usr/bin/env python3
"""A stand-in S3 endpoint for tests/s3/test_iam_policy.sh: answers HEAD and ranged GET of any key
with a fixed body and the headers AWS S3 sends for an SSE-KMS object
(x-amz-server-side-encryption: aws:kms, x-amz-server-side-encryption-aws-kms-key-id), which the
test S3 server (s3rver) does not send. Signatures are not checked. Prints its port, then serves
until killed. usage: kms_echo_server.py KEY_ARN"""
import http.server
import re
import sys

BODY = b"x,y\n1,2\n"
KEY = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def headers_for(self, status, length, extra=()):
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", '"e0"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("x-amz-request-id", "KMSECHO1")
        self.send_header("x-amz-server-side-encryption", "aws:kms")
        self.send_header("x-amz-server-side-encryption-aws-kms-key-id", KEY)
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()

    def do_HEAD(self):
        self.headers_for(200, len(BODY))

    def do_GET(self):
        m = re.match(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        a, b = (int(m.group(1)), min(int(m.group(2)), len(BODY) - 1)) if m else (0, len(BODY) - 1)
        part = BODY[a:b + 1]
        self.headers_for(206 if m else 200, len(part),
                         [("Content-Range", "bytes %d-%d/%d" % (a, b, len(BODY)))] if m else [])
        self.wfile.write(part)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
