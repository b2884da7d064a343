#!/usr/bin/env python3
"""Fault-injecting HTTP proxy between the tools and the local AWS emulator.

Forwards every request (method, path, query, headers, body) to UPSTREAM (the
moto server) and relays the answer, except that a share of the requests is
answered at once, WITHOUT being forwarded, with a fault in the wire format of
the service the request is for (taken from the SigV4 credential scope
`Credential=KEY/DATE/REGION/SERVICE/aws4_request`):

  kind      ec2                     query (iam, sts, rds)    awsJson (emr)
  throttle  503 RequestLimitExceeded 400 Throttling          400 ThrottlingException
  500       500 InternalError        500 InternalFailure     500 InternalFailure

  kind      restJson (es)           s3
  throttle  429 ThrottlingException 503 SlowDown
  500       500 InternalException   500 InternalError

Since a faulted request never reaches the emulator, a retry of it is always
safe: these faults test that the tools retry and converge. The extra kind
`lost` (not in the default kinds) does forward the request, then drops the
emulator's answer and sends the 500 instead: a retry then repeats a call
that took effect, which tests the tools' idempotency. Requests under
/moto-api/, and requests of no known service, are always forwarded. `GET /fault-proxy/stats` answers JSON
{"forwarded": N, "faults": N, "faults_by_kind": {...}, "faults_by_service": {...}}
(forwarded: answers relayed from the emulator; a `lost` one counts as a fault).

Listens on 127.0.0.1 only and forwards to a loopback upstream only. Stops
cleanly on SIGTERM or SIGINT (and, with --stop-on-stdin-eof, when its stdin
closes, so that it cannot outlive a parent that dies without cleaning up).
Python 3 standard library only.

  fault-proxy.py --upstream http://127.0.0.1:5000 --fault-rate 0.1 \\
      --kinds throttle,500 --seed 7 --port-file /tmp/p
Every flag also reads an env var: FAULT_PROXY_UPSTREAM (else
ANALYTICS_MOTO_URL), FAULT_PROXY_PORT, FAULT_PROXY_RATE, FAULT_PROXY_KINDS,
FAULT_PROXY_DELAY_MS, FAULT_PROXY_SEED, FAULT_PROXY_PORT_FILE.
"""

import argparse
import http.client
import http.server
import ipaddress
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

KINDS = ("throttle", "500", "lost")
STATS_PATH = "/fault-proxy/stats"
# Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy sets itself.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "expect", "content-length",
}
CREDENTIAL_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")

# SigV4 service name -> wire protocol of its errors.
PROTOCOLS = {
    "ec2": "ec2",
    "s3": "s3",
    "iam": "query",
    "sts": "query",
    "rds": "query",
    "elasticmapreduce": "awsjson",
    "es": "restjson",
}


def service_of(headers, query):
    """The SigV4 service name of a request (Authorization header, else a
    presigned URL's X-Amz-Credential), or None."""
    auth = headers.get("Authorization", "")
    m = CREDENTIAL_RE.search(auth)
    if m:
        return m.group(1)
    cred = urllib.parse.parse_qs(query).get("X-Amz-Credential")
    if cred:
        parts = cred[0].split("/")
        if len(parts) == 5:
            return parts[3]
    return None


def protocol_of(service, content_type):
    """How to shape an error for SERVICE: a known service's protocol, else a
    guess from the request's content type, else None (forward unfaulted)."""
    if service is None:
        return None
    if service in PROTOCOLS:
        return PROTOCOLS[service]
    ct = (content_type or "").lower()
    if ct.startswith("application/x-www-form-urlencoded"):
        return "query"
    if ct.startswith("application/x-amz-json"):
        return "awsjson"
    return None


def operation(headers, body):
    """A short name of the call for the log: the query protocol's Action, the
    JSON protocols' X-Amz-Target, else nothing (REST: method and path say it)."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        m = re.search(rb"(?:^|&)Action=([A-Za-z0-9]+)", body)
        if m:
            return m.group(1).decode()
    return ""


def xml(body):
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def fault_response(protocol, kind, method):
    """(status, headers, body) of a fault of KIND for PROTOCOL."""
    rid = str(uuid.uuid4())
    throttle = kind == "throttle"
    if protocol == "ec2":
        status, code, msg = (503, "RequestLimitExceeded", "Request limit exceeded.") if throttle else (
            500, "InternalError", "An internal error has occurred.")
        body = xml(f"<Response><Errors><Error><Code>{code}</Code><Message>{msg}</Message></Error>"
                   f"</Errors><RequestID>{rid}</RequestID></Response>")
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    elif protocol == "query":
        status, typ, code, msg = (400, "Sender", "Throttling", "Rate exceeded") if throttle else (
            500, "Receiver", "InternalFailure", "We encountered an internal error. Please try again.")
        body = xml(f"<ErrorResponse><Error><Type>{typ}</Type><Code>{code}</Code><Message>{msg}</Message>"
                   f"</Error><RequestId>{rid}</RequestId></ErrorResponse>")
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
    elif protocol == "awsjson":
        status, code, msg = (400, "ThrottlingException", "Rate exceeded") if throttle else (
            500, "InternalFailure", "We encountered an internal error. Please try again.")
        body = json.dumps({"__type": code, "message": msg})
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                   ("x-amzn-RequestId", rid)]
    elif protocol == "restjson":
        status, code, msg = (429, "ThrottlingException", "Rate exceeded") if throttle else (
            500, "InternalException", "We encountered an internal error. Please try again.")
        body = json.dumps({"message": msg})
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", rid)]
    elif protocol == "s3":
        status, code, msg = (503, "SlowDown", "Please reduce your request rate.") if throttle else (
            500, "InternalError", "We encountered an internal error. Please try again.")
        body = xml(f"<Error><Code>{code}</Code><Message>{msg}</Message><RequestId>{rid}</RequestId>"
                   f"<HostId>fault-proxy</HostId></Error>")
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid), ("x-amz-id-2", "fault-proxy")]
    else:
        raise ValueError(f"no fault format for protocol {protocol!r}")
    # S3 answers HEAD errors with no body; no client reads one.
    data = b"" if method == "HEAD" else body.encode()
    return status, headers, data


class Faults:
    """Decides which requests fail, and counts. One lock, one seeded RNG:
    the sequence of decisions is fixed by the seed (which request gets which
    depends on arrival order when clients run concurrently)."""

    def __init__(self, rate, kinds, seed):
        self.rate = rate
        self.kinds = kinds
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.forwarded = 0
        self.upstream_errors = 0
        self.by_kind = {k: 0 for k in kinds}
        self.by_service = {}

    def draw(self, service):
        """The kind of fault for this request, or None to forward it."""
        with self.lock:
            if self.rate <= 0 or self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(self.kinds)
            self.by_kind[kind] += 1
            key = f"{service}:{kind}"
            self.by_service[key] = self.by_service.get(key, 0) + 1
            return kind

    def count(self, field):
        with self.lock:
            setattr(self, field, getattr(self, field) + 1)

    def snapshot(self):
        with self.lock:
            return {
                "forwarded": self.forwarded,
                "faults": sum(self.by_kind.values()),
                "faults_by_kind": dict(self.by_kind),
                "faults_by_service": dict(sorted(self.by_service.items())),
                "upstream_errors": self.upstream_errors,
                "fault_rate": self.rate,
            }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive with the SDK's connection pool
    server_version = "fault-proxy"
    # Set on the class by main().
    upstream = ("127.0.0.1", 0)
    faults = None
    delay = 0.0
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("fault-proxy: %s\n" % (fmt % args))

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)  # CRLF after the chunk
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, headers, body, head_length=None):
        if self.delay:
            time.sleep(self.delay)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if not (100 <= status < 200 or status in (204, 304)):
            self.send_header("Content-Length", str(head_length if head_length is not None else len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        body = self.read_body()
        path = self.path
        if self.command == "GET" and path == STATS_PATH and "Authorization" not in self.headers:
            data = json.dumps(self.faults.snapshot()).encode()
            self.reply(200, [("Content-Type", "application/json")], data)
            return
        query = urllib.parse.urlsplit(path).query
        if not path.startswith("/moto-api/"):
            service = service_of(self.headers, query)
            protocol = protocol_of(service, self.headers.get("Content-Type"))
            kind = self.faults.draw(service) if protocol else None
            if kind:
                self.log_message("%s %s %s %s -> fault %s", service, operation(self.headers, body), self.command,
                                 path.split("?", 1)[0], kind)
                if kind == "lost" and not self.forward(body, relay=False):
                    return
                status, headers, data = fault_response(protocol, "500" if kind == "lost" else kind, self.command)
                self.reply(status, headers, data)
                return
        self.forward(body)

    def forward(self, body, relay=True):
        """Sends the request upstream and relays the answer (or, without
        RELAY, drops it). False if the upstream failed (a 502 was sent)."""
        host, port = self.upstream
        conn = http.client.HTTPConnection(host, port, timeout=300)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    conn.putheader(k, v)
            if body or "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            head_length = None
            if self.command == "HEAD":
                head_length = resp.getheader("Content-Length", "0")
        except (OSError, http.client.HTTPException) as e:
            self.faults.count("upstream_errors")
            sys.stderr.write(f"fault-proxy: upstream {host}:{port} failed for {self.command} {self.path}: {e}\n")
            self.reply(502, [("Content-Type", "text/plain")], f"fault-proxy: upstream failed: {e}\n".encode())
            return False
        finally:
            conn.close()
        if relay:
            self.faults.count("forwarded")
            self.reply(resp.status, headers, data, head_length)
        return True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any


def loopback(host):
    """True if HOST (a name or an address) resolves to loopback addresses only."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def env(name, default=None):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upstream", default=env("FAULT_PROXY_UPSTREAM", env("ANALYTICS_MOTO_URL")),
                   help="the emulator's URL, e.g. http://127.0.0.1:5000 (loopback only)")
    p.add_argument("--port", type=int, default=int(env("FAULT_PROXY_PORT", "0")),
                   help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--fault-rate", type=float, default=float(env("FAULT_PROXY_RATE", "0.1")),
                   help="share of requests answered with a fault, 0 to 1 (default 0.1)")
    p.add_argument("--kinds", default=env("FAULT_PROXY_KINDS", "throttle,500"),
                   help="comma-separated fault kinds, drawn evenly: throttle, 500, lost (default throttle,500)")
    p.add_argument("--delay-ms", type=int, default=int(env("FAULT_PROXY_DELAY_MS", "0")),
                   help="latency added to every answer, in ms (default 0)")
    p.add_argument("--seed", type=int, default=None if env("FAULT_PROXY_SEED") is None
                   else int(env("FAULT_PROXY_SEED")), help="seed of the fault draws (default: random)")
    p.add_argument("--port-file", default=env("FAULT_PROXY_PORT_FILE"),
                   help="write the port here once listening")
    p.add_argument("--stop-on-stdin-eof", action="store_true",
                   help="also stop when stdin closes (give it a pipe from the parent)")
    p.add_argument("-v", "--verbose", action="store_true", help="log each request and fault on stderr")
    a = p.parse_args(argv)
    if not a.upstream:
        p.error("--upstream is required (or FAULT_PROXY_UPSTREAM / ANALYTICS_MOTO_URL)")
    u = urllib.parse.urlsplit(a.upstream)
    if u.scheme != "http" or not u.hostname:
        p.error(f"--upstream {a.upstream!r}: expected http://HOST[:PORT]")
    if not loopback(u.hostname):
        p.error(f"--upstream {a.upstream!r}: only a loopback upstream is allowed")
    a.upstream_addr = (u.hostname, u.port or 80)
    if not 0 <= a.fault_rate <= 1:
        p.error("--fault-rate must be between 0 and 1")
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        p.error(f"--kinds {a.kinds!r}: expected a comma-separated list of {', '.join(KINDS)}")
    a.kinds = kinds
    if not 0 <= a.port <= 65535:
        p.error("--port must be between 0 and 65535")
    if a.delay_ms < 0:
        p.error("--delay-ms must not be negative")
    return a


def main(argv):
    a = parse_args(argv)
    Handler.upstream = a.upstream_addr
    Handler.faults = Faults(a.fault_rate, a.kinds, a.seed)
    Handler.delay = a.delay_ms / 1000.0
    Handler.verbose = a.verbose
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if a.port_file:
        tmp = f"{a.port_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, a.port_file)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if a.stop_on_stdin_eof:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except OSError:
                pass
            stop.set()
        threading.Thread(target=watch_stdin, daemon=True).start()

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    serving.start()
    sys.stderr.write(f"fault-proxy: http://127.0.0.1:{port} -> http://{a.upstream_addr[0]}:{a.upstream_addr[1]}"
                     f" (fault rate {a.fault_rate}, kinds {','.join(a.kinds)}, delay {a.delay_ms} ms,"
                     f" seed {a.seed})\n")
    sys.stderr.flush()
    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    sys.stderr.write(f"fault-proxy: stopped; {json.dumps(Handler.faults.snapshot())}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
