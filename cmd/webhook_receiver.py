#!/usr/bin/env python3
"""A webhook receiver for the registry's end-to-end test: answers every POST with 204
and appends its body, one line each, to a file. With --fail N it answers the first N
POSTs with 503 instead, for the registry to try again.

    webhook_receiver.py PORT FILE [--fail N]
"""
import http.server
import sys

port, path = int(sys.argv[1]), sys.argv[2]
failures_left = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--fail" else 0
out = open(path, "a", buffering=1)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global failures_left
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if failures_left > 0:
            failures_left -= 1
            self.send_response(503)
        else:
            out.write(body.decode() + "\n")
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
