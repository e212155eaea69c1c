#!/usr/bin/env python3
"""A real HTTP server on loopback for pipeline `axios` tests and the demo: it records what it is sent.

Prints its port on the first line of stdout, then serves until stdin closes (or forever with --port).
  POST|PUT|PATCH /hooks/...   records {method, path, headers, body} and answers {"ok": true}
                              (with ?ms=N: answers after N ms and records nothing)
  GET /received               every recorded request, as JSON
  GET /json                   {"allowed": true, "ip": "203.0.113.7"}
  GET /slow?ms=N              answers after N ms
  GET /status/N               answers status N with {"error": "status N"}
  GET /big?bytes=N            answers N bytes of 'x'
  GET /redirect?to=URL        302 to URL
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

received = []
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json", extra=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        delay = parse_qs(urlparse(self.path).query).get("ms")
        if delay:  # a slow webhook: answers after ms milliseconds, keeps no record (load tests)
            time.sleep(int(delay[0]) / 1000)
            return self.reply(200, {"ok": True})
        with lock:
            received.append({"method": self.command, "path": self.path, "body": body,
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
        self.reply(200, {"ok": True})

    do_POST = do_PUT = do_PATCH = record

    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        if url.path == "/received":
            with lock:
                return self.reply(200, list(received))
        if url.path == "/json":
            return self.reply(200, {"allowed": True, "ip": "203.0.113.7"}, extra={"X-Sink": "yes"})
        if url.path == "/slow":
            time.sleep(int(q.get("ms", ["1000"])[0]) / 1000)
            return self.reply(200, {"slow": True})
        if url.path.startswith("/status/"):
            status = int(url.path.rsplit("/", 1)[1])
            return self.reply(status, {"error": f"status {status}"})
        if url.path == "/big":
            return self.reply(200, b"x" * int(q.get("bytes", ["0"])[0]), "text/plain")
        if url.path == "/redirect":
            return self.reply(302, {"moved": True}, extra={"Location": q.get("to", ["/json"])[0]})
        if url.path.startswith("/hooks/"):
            return self.record()
        return self.reply(404, {"error": "not found"})

    do_HEAD = do_DELETE = do_GET


def main():
    port = 0
    if "--port" in sys.argv:
        port = int(sys.argv[sys.argv.index("--port") + 1])
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if port:
        threading.Event().wait()
    else:
        sys.stdin.read()  # the test closes stdin (or dies): stop with it


if __name__ == "__main__":
    main()
