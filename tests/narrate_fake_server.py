"""A canned OpenAI-compatible chat server on 127.0.0.1, for client tests and the client benchmark.

It is a real HTTP server (http.server, one thread per request) so the client under test goes
through its whole stack: openai SDK, httpx, sockets. What it answers is decided per request by
`behaviour(n, body)` (n counts requests from 1), which returns one of:

  ("answer", text)            200 with a chat completion holding `text`
  ("status", code, headers)   that HTTP status with an OpenAI-style error body
  ("sleep", seconds, text)    wait, then answer (for timeouts and concurrency checks)
  ("garbage",)                200 with a body that is not JSON

`echo_answer` builds a narration that copies the result the prompt states, so the [OUTPUT]
block parses; `requests` and `max_in_flight` are counted for the tests.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

_RESULT = re.compile(r"It returned: (`+) ?(.*?) ?\1\n", re.S)
_PRINTED = re.compile(r"Everything it printed, exactly:\n\n(`{3,})\n(.*?)\1", re.S)


def echo_answer(body: dict[str, Any]) -> str:
    """A narration whose [OUTPUT] holds what the prompt says the run produced."""
    user = body["messages"][-1]["content"]
    m = _RESULT.search(user)
    if m:
        return f"The function runs and returns `{m.group(2)}`.\n\n[OUTPUT]\n{m.group(2)}\n[/OUTPUT]"
    m = _PRINTED.search(user)
    out = m.group(2)[:-1] if m else ""
    return f"The program prints its output.\n\n[OUTPUT]\n{out}\n[/OUTPUT]"


class FakeChatServer:
    def __init__(self, behaviour: Callable[[int, dict[str, Any]], tuple] | None = None):
        self.behaviour = behaviour or (lambda n, body: ("answer", echo_answer(body)))
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread: threading.Thread | None = None

    def __enter__(self) -> FakeChatServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread.join(5)
            self.thread = None
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming; /health for readiness checks
                self._send(200, b'{"status": "ok"}', {})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.requests += 1
                    n = server.requests
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._respond(server.behaviour(n, body), body)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _respond(self, plan: tuple, body: dict[str, Any]) -> None:
                kind = plan[0]
                if kind == "sleep":
                    time.sleep(plan[1])
                    plan = ("answer", plan[2])
                    kind = "answer"
                if kind == "answer":
                    text = plan[1]
                    payload = {
                        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                        "model": body.get("model", ""),
                        "choices": [{"index": 0, "finish_reason": plan[2] if len(plan) > 2 else "stop",
                                     "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": sum(len(m["content"]) // 4 for m in body.get("messages", [])),
                                  "completion_tokens": max(1, len(text) // 4), "total_tokens": 0},
                    }
                    self._send(200, json.dumps(payload).encode(), {})
                elif kind == "status":
                    err = {"error": {"message": f"canned {plan[1]}", "type": "fake", "code": plan[1]}}
                    self._send(plan[1], json.dumps(err).encode(), plan[2] if len(plan) > 2 else {})
                elif kind == "garbage":
                    self._send(200, b"<html>not json</html>", {})
                else:
                    raise ValueError(f"unknown plan {plan!r}")

            def _send(self, code: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to tell it

        return Handler
