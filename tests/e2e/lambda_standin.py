"""A stand-in for AWS Lambda's `Invoke` API, for tests (moto would need Docker to run code).

It answers as Lambda does: it checks each request's SigV4 signature with botocore's own
signer (service `lambda`, in the region of the function's ARN), decodes the client context,
runs the registered Python handler as `handler(event, context)` with
`context.client_context.custom` and `context.aws_request_id`, and replies with the payload,
`X-Amz-Function-Error: Unhandled` and Lambda's error document when the handler raises, or
Lambda's own service errors (`ResourceNotFoundException`, `TooManyRequestsException`,
`RequestTooLargeException`) with `X-Amzn-ErrorType`.

It also serves `GET /echo` (an OpenAPI target's backend in the same tests), and S3's
`GetObject` for the objects in `objects` (path-style, each request's signature checked with
botocore's `S3SigV4Auth`, whose canonicalisation differs from other services'). Every request
is recorded as received.
"""

import base64
import http.server
import json
import re
import threading
import traceback
import types
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MAX_PAYLOAD = 6 * 1024 * 1024


class HandledError(Exception):
    """Raised by a handler to answer with `X-Amz-Function-Error: Handled`."""


class LambdaStandIn:
    def __init__(self, credentials):
        self.credentials = Credentials(*credentials)
        self.functions = {}
        self.objects = {}
        self.seen = []
        self.throttle = False
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                stand_in._invoke(self)

            def do_GET(self):
                stand_in._echo(self)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def register(self, arn, handler):
        self.functions[arn] = handler

    def close(self):
        self.server.shutdown()

    def _verify(self, req, body, region, service="lambda", auth_class=SigV4Auth):
        """None when botocore computes the same signature, else why not."""
        headers = {k.lower(): v for k, v in req.headers.items()}
        auth = headers.get("authorization", "")
        m = re.search(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request", auth)
        if not m:
            return "no SigV4 Authorization header"
        if (m.group(2), m.group(3)) != (region, service):
            return f"signed for {m.group(3)} in {m.group(2)}, not {service} in {region}"
        signed = re.search(r"SignedHeaders=([^,]+)", auth).group(1).split(";")
        theirs = re.search(r"Signature=([0-9a-f]+)", auth).group(1)
        request = AWSRequest(
            method=req.command,
            url=f"http://{headers['host']}{req.path}",
            headers={name: headers[name] for name in signed},
            data=body,
        )
        request.context["timestamp"] = headers["x-amz-date"]
        signer = auth_class(self.credentials, service, region)
        expected = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request
        )
        return None if expected == theirs else "signature mismatch"

    def _reply(self, req, status, body, headers=()):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        req.send_response(status)
        req.send_header("content-type", "application/json")
        req.send_header("content-length", str(len(data)))
        req.send_header("x-amzn-requestid", str(uuid.uuid4()))
        for k, v in headers:
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data)

    def _error(self, req, status, code, message):
        self._reply(req, status, {"Type": "User", "message": message}, [("x-amzn-errortype", code)])

    def _invoke(self, req):
        length = int(req.headers.get("content-length") or 0)
        body = req.rfile.read(length) if length else b""
        m = re.fullmatch(r"/2015-03-31/functions/([^/]+)/invocations", urlsplit(req.path).path)
        if not m:
            return self._error(req, 404, "UnknownOperationException", "Unknown operation")
        arn = unquote(m.group(1))
        record = {
            "arn": arn,
            "headers": {k.lower(): v for k, v in req.headers.items()},
            "event": None,
            "custom": None,
            "signature": None,
        }
        self.seen.append(record)
        region = arn.split(":")[3] if arn.count(":") >= 6 else "?"
        why = self._verify(req, body, region)
        record["signature"] = why or "ok"
        if why:
            return self._error(req, 403, "InvalidSignatureException", why)
        if self.throttle:
            return self._error(req, 429, "TooManyRequestsException", "Rate Exceeded.")
        if len(body) > MAX_PAYLOAD:
            return self._error(req, 413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes")
        handler = self.functions.get(arn)
        if handler is None:
            return self._error(req, 404, "ResourceNotFoundException", f"Function not found: {arn}")
        event = json.loads(body or b"null")
        encoded = req.headers.get("x-amz-client-context")
        client_context = json.loads(base64.b64decode(encoded)) if encoded else {}
        record["event"], record["custom"] = event, client_context.get("custom")
        context = types.SimpleNamespace(
            aws_request_id=str(uuid.uuid4()),
            function_name=arn.split(":")[6],
            invoked_function_arn=arn,
            client_context=types.SimpleNamespace(custom=client_context.get("custom") or {}),
        )
        try:
            result = handler(event, context)
        except Exception as e:  # the function's own failure, as Lambda reports it
            kind = "Handled" if isinstance(e, HandledError) else "Unhandled"
            doc = {
                "errorMessage": str(e),
                "errorType": type(e).__name__,
                "stackTrace": traceback.format_tb(e.__traceback__),
            }
            return self._reply(req, 200, doc, [("x-amz-function-error", kind)])
        self._reply(req, 200, json.dumps(result).encode())

    def _echo(self, req):
        parts = urlsplit(req.path)
        if parts.path != "/echo":
            return self._get_object(req, parts.path)
        self._reply(req, 200, {"query": parse_qs(parts.query)})

    def _get_object(self, req, path):
        bucket, _, key = unquote(path).lstrip("/").partition("/")
        record = {"bucket": bucket, "key": key, "headers": {k.lower(): v for k, v in req.headers.items()}}
        self.seen.append(record)
        why = self._verify(req, b"", "us-east-1", "s3", S3SigV4Auth)
        record["signature"] = why or "ok"
        if why:
            return self._error(req, 403, "SignatureDoesNotMatch", why)
        body = self.objects.get((bucket, key))
        if body is None:
            return self._error(req, 404, "NoSuchKey", "The specified key does not exist.")
        self._reply(req, 200, body)
