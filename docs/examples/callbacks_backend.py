#!/usr/bin/env python3
"""A wsgate callbacks backend with the standard library only: connect, RPC, subscribe and publish
checks, and connection events.

wsgate posts JSON to the backend (docs/integration.md, "Backend callbacks"):

- POST /connect {"remote_addr","headers":{"Cookie",...},"query","user"?}; this backend accepts
               the cookie of one of its sessions (SESSIONS below) as that session's user,
               subscribed to "user:<id>", with the user's name in the welcome's data; a
               banned session is closed with 4403; anything else is refused (4401).
- POST /rpc    {"user","connection_id","method","data"}; the answer is
               {"result":{"data":...}} or {"error":{"code":"...","message":"..."}}.
- POST /subscribe {"user","connection_id","channel","token"?,"data"?}: asked about a client's
               subscribe in a namespace with subscribe_check; this backend lets the members of
               a room (ROOMS below) subscribe to "room:<name>", and refuses anyone else with
               permission_denied.
- POST /publish {"user","connection_id","channel","data"}: asked about a client's publication
               in a namespace with publish_check; this backend takes {"text":"..."} only,
               refuses text with a blocked word (publish_not_allowed), and replaces the data
               with the text masked and stamped with the author: {"result":{"data":{...}}}.
- POST /events {"events":[{"id","type","time","connection_id","user","channel","reason"}]};
               any 2xx answer takes the batch. Events may come twice (at least once
               delivery): de-duplicate by "id".

Every request carries X-Wsgate-Signature: sha256=<hex HMAC-SHA256 of the body> when wsgate
runs with -callback-secret; this backend refuses a request whose signature does not match
(401). Run it with the same secret wsgate has:

    WSGATE_CALLBACK_SECRET=... python3 callbacks_backend.py --port 9000
    WSGATE_CALLBACK_SECRET=... wsgate -connect-url http://127.0.0.1:9000/connect \\
        -rpc-url http://127.0.0.1:9000/rpc -events-url http://127.0.0.1:9000/events \\
        -subscribe-url http://127.0.0.1:9000/subscribe -publish-url http://127.0.0.1:9000/publish

with a namespace that asks for the checks in wsgate's configuration file:

    namespaces:
      - name: room
        subscribe: authenticated
        publish: subscribers
        subscribe_check: true
        publish_check: true

GET /events lists the distinct events received so far (for tests and curiosity).
It prints "listening on <port>" once it is ready (--port 0 picks a free port).
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("WSGATE_CALLBACK_SECRET", "").encode()
MAX_BODY = 1 << 20

# The app's own sessions, as its login would have stored them: cookie value -> user.
SESSIONS = {
    "s3cret-ada": {"user_id": "42", "name": "Ada", "banned": False},
    "s3cret-eve": {"user_id": "66", "name": "Eve", "banned": True},
}
SESSION_LIFETIME = 3600  # seconds: the connection expires with the session

# Who may read and write each room: "room:<name>" -> user ids.
ROOMS = {"lobby": {"42", "ada", "bob"}}
BLOCKED_WORDS = {"spam"}
MASKED_WORDS = {"darn"}

seen_ids = set()
events = []
events_lock = threading.Lock()


def signature_is_valid(body, header):
    """Check X-Wsgate-Signature against the body, in constant time."""
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")


def run_connect(call):
    """Decide about one connection by the app's session cookie."""
    cookies = SimpleCookie()
    try:
        cookies.load(call.get("headers", {}).get("Cookie", ""))
    except CookieError:
        pass
    session = SESSIONS.get(cookies["session"].value) if "session" in cookies else None
    if session is None:
        return {"error": {"code": "no_session", "message": "log in first"}}
    if session["banned"]:
        return {"disconnect": {"code": 4403, "reason": "banned"}}
    user_id = session["user_id"]
    return {"result": {"user": user_id, "channels": ["user:" + user_id],
                       "expire_at": int(time.time()) + SESSION_LIFETIME,
                       "data": {"name": session["name"]}}}


def run_rpc(call):
    """Run one RPC: the methods of this example."""
    method, data = call.get("method"), call.get("data")
    if method == "echo":
        return {"result": {"data": data}}
    if method == "whoami":
        return {"result": {"data": {"user": call.get("user"), "connection_id": call.get("connection_id")}}}
    if method == "sum" and isinstance(data, list):
        return {"result": {"data": sum(data)}}
    return {"error": {"code": "unknown_method", "message": "no method %r" % method}}


def run_subscribe(call):
    """Let the members of a room subscribe to it."""
    namespace, _, room = call.get("channel", "").partition(":")
    if namespace == "room" and call.get("user") in ROOMS.get(room, ()):
        return {"result": {}}
    return {"error": {"code": "permission_denied", "message": "not a member of this room"}}


def run_publish(call):
    """Take {"text": ...} only; refuse blocked words, mask others, stamp the author."""
    data = call.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return {"error": {"code": "publish_not_allowed", "message": 'publish {"text":"..."}'}}
    words = data["text"].split()
    if any(word.lower() in BLOCKED_WORDS for word in words):
        return {"error": {"code": "publish_not_allowed", "message": "blocked word"}}
    text = " ".join("*" * len(word) if word.lower() in MASKED_WORDS else word for word in words)
    return {"result": {"data": {"text": text, "user": call.get("user")}}}


def take_events(batch):
    """Keep each event once, whatever the retries."""
    with events_lock:
        for event in batch.get("events", []):
            if event["id"] not in seen_ids:
                seen_ids.add(event["id"])
                events.append(event)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wsgate's client expects

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length > MAX_BODY:
            return self.answer(413, {"error": {"code": "too_large", "message": "body too large"}})
        body = self.rfile.read(length)
        if SECRET and not signature_is_valid(body, self.headers.get("X-Wsgate-Signature")):
            return self.answer(401, {"error": {"code": "bad_signature", "message": "signature mismatch"}})
        payload = json.loads(body)
        if self.path == "/connect":
            return self.answer(200, run_connect(payload))
        if self.path == "/rpc":
            return self.answer(200, run_rpc(payload))
        if self.path == "/subscribe":
            return self.answer(200, run_subscribe(payload))
        if self.path == "/publish":
            return self.answer(200, run_publish(payload))
        if self.path == "/events":
            take_events(payload)
            return self.answer(200, {})
        self.answer(404, {"error": {"code": "not_found", "message": self.path}})

    def do_GET(self):
        if self.path != "/events":
            return self.answer(404, {})
        with events_lock:
            listing = list(events)
        self.answer(200, {"events": listing})

    def answer(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *arguments):
        pass  # quiet: one line per request would drown the events


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9000)
    arguments = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler)
    print("listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
