"""A JSON HTTP server on 127.0.0.1 that fails the way public endpoints do: a given status
(503, 502…) or a connection closed without a word, a given number of times per path."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        #: per path, failures to give first: a status (503), or 0 to hang up without a word
        self.failures: dict[str, list[int]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                failures = server.failures.get(self.path)
                if failures:
                    failure = failures.pop(0)
                    self.close_connection = True
                    if failure:
                        self.send_response(failure)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    return
                status, body, content_type = server.routes.get(
                    self.path, (404, b'{"error":"Not found"}', "application/json")
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def json(self, path: str, document: object, content_type: str = "application/json") -> None:
        self.routes[path] = (200, json.dumps(document).encode(), content_type)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
