#!/usr/bin/env python3
"""Mint wsgate tokens and push messages to wsgate, with the standard library only.

A backend (for example a FastAPI service) uses wsgate in two ways:

1. It gives each signed-in user a short-lived token (an HS256 JWT whose "sub" is
   the user id), which the user's browser or app presents when it connects.
2. It pushes JSON messages to a user, a connection or everyone through wsgate's
   HTTP API, authenticated with the API key.

Import the functions below into your service, or run this file:

    python3 push.py token alice                 # print a token for user alice
    python3 push.py send alice '{"type":"notification","text":"hi"}'
    python3 push.py broadcast '{"type":"announcement"}'
    python3 push.py kick alice --reason "logged out"

Settings come from the environment, the same variables wsgate reads:
WSGATE_URL (default http://127.0.0.1:8080), WSGATE_API_KEY, WSGATE_JWT_SECRET,
and optionally WSGATE_JWT_AUDIENCE and WSGATE_JWT_ISSUER. Secrets are never printed.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


# MAX_BODY_SIZE is the largest request body wsgate's API accepts by default, in bytes
# (1 MiB, -max-body-size); a larger one is answered 413 body_too_large.
MAX_BODY_SIZE = 1 << 20


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_token(secret: str, user_id: str, ttl_seconds: int = 3600,
               audience: str = "", issuer: str = "") -> str:
    """Return an HS256 JWT for user_id that expires in ttl_seconds.

    wsgate reads the user id from "sub" and closes the connection with 4100
    "token expired" when "exp" passes; give the client a fresh token then.
    """
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = ".".join(
        _base64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
        for part in (header, claims)
    )
    signature = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _base64url(signature)


class WsgateError(Exception):
    """A call to wsgate failed: status, code and human message.

    An error answer of the API has its HTTP status and the API's error code
    ("unauthorized", "connection_not_found", ...). A call that got no answer at all
    (connection refused or reset, timeout, a broken HTTP exchange) has status 0 and
    code "unreachable"; it may or may not have been delivered.
    """

    def __init__(self, status: int, code: str, message: str):
        if status:
            super().__init__(f"wsgate answered {status} {code}: {message}")
        else:
            super().__init__(f"no answer from wsgate: {message}")
        self.status = status
        self.code = code


class Gateway:
    """A client of wsgate's publish API. Each call returns wsgate's JSON answer."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def send_to_user(self, user_id: str, message: dict) -> dict:
        """Queue message for every connection of user_id: {"queued": N}."""
        return self._call("POST", f"/api/v1/users/{_segment(user_id)}/send", {"message": message})

    def send_to_connection(self, connection_id: str, message: dict) -> dict:
        """Queue message for one connection: {"queued": 1}, or WsgateError 404."""
        return self._call("POST", f"/api/v1/connections/{_segment(connection_id)}/send", {"message": message})

    def broadcast(self, message: dict, exclude=()) -> dict:
        """Queue message for every connection except those in exclude."""
        return self._call("POST", "/api/v1/broadcast", {"message": message, "exclude": list(exclude)})

    def kick_user(self, user_id: str, reason: str = "") -> dict:
        """Close every connection of user_id with 4403: {"closed": N}."""
        return self._call("DELETE", f"/api/v1/users/{_segment(user_id)}/connections", {"reason": reason})

    def _call(self, method: str, path: str, body: dict) -> dict:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + self.api_key,
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as error:
            try:
                answer = json.load(error)
            except (ValueError, http.client.HTTPException, OSError):
                answer = {"error": "http_error", "message": error.reason}
            raise WsgateError(error.code, answer.get("error", ""), answer.get("message", "")) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            # Refused, reset, timed out or cut mid-answer: URLError wraps what happens
            # while connecting, the others what happens after.
            raise WsgateError(0, "unreachable", self._describe(method, path, len(data), error)) from error
        try:
            return json.loads(answer)
        except ValueError:
            raise WsgateError(status, "invalid_answer", f"the answer to {method} {path} is not JSON") from None

    def _describe(self, method: str, path: str, size: int, error: Exception) -> str:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        text = f"{method} {self.base_url}{path}: {type(reason).__name__}: {reason}"
        if size > MAX_BODY_SIZE:
            text += f" (the body has {size} bytes; wsgate accepts at most {MAX_BODY_SIZE} by default)"
        return text


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError as error:
        sys.exit(f"push.py: the message is not JSON: {error}")


def _environment(name: str, required: bool = True) -> str:
    value = os.environ.get(name, "")
    if required and not value:
        sys.exit(f"push.py: set {name}")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description="Mint wsgate tokens and push messages to wsgate.")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a token for a user")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until the token expires")
    send = commands.add_parser("send", help="push a JSON object to every connection of a user")
    send.add_argument("user_id")
    send.add_argument("message", help="a JSON object")
    broadcast = commands.add_parser("broadcast", help="push a JSON object to every connection")
    broadcast.add_argument("message", help="a JSON object")
    kick = commands.add_parser("kick", help="disconnect every connection of a user")
    kick.add_argument("user_id")
    kick.add_argument("--reason", default="")
    arguments = parser.parse_args()

    if arguments.command == "token":
        print(mint_token(_environment("WSGATE_JWT_SECRET"), arguments.user_id, arguments.ttl,
                         _environment("WSGATE_JWT_AUDIENCE", False), _environment("WSGATE_JWT_ISSUER", False)))
        return 0

    gateway = Gateway(os.environ.get("WSGATE_URL", "http://127.0.0.1:8080"), _environment("WSGATE_API_KEY"))
    try:
        if arguments.command == "send":
            answer = gateway.send_to_user(arguments.user_id, _json(arguments.message))
        elif arguments.command == "broadcast":
            answer = gateway.broadcast(_json(arguments.message))
        else:
            answer = gateway.kick_user(arguments.user_id, arguments.reason)
    except WsgateError as error:
        print(f"push.py: {error}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
