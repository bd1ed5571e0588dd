"""A webhook receiver for tests: verifies X-Deployex-Signature (HMAC-SHA256
of the body with the shared secret) and appends one JSON line per request
to LOG: {"path", "valid", "delivery", "event", "body"}.  Answers 204 when the
signature is valid, 401 when not.

    python3 webhook_receiver.py PORT SECRET_FILE LOG READY_FILE
"""
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, secret_file, log_path, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
secret = open(secret_file, 'rb').read().rstrip(b'\r\n')


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        want = 'sha256=' + hmac.new(secret, body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(want, self.headers.get('X-Deployex-Signature', ''))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with open(log_path, 'a') as f:
            f.write(json.dumps({'path': self.path, 'valid': valid,
                                'delivery': self.headers.get('X-Deployex-Delivery'),
                                'event': self.headers.get('X-Deployex-Event'),
                                'body': parsed}) + '\n')
        self.send_response(204 if valid else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(('127.0.0.1', port), Handler)
open(ready, 'w').close()
server.serve_forever()
