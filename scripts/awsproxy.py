"""What scripts/fault-proxy.py and scripts/aws-sim.py share: HTTP proxies on
127.0.0.1 in front of a loopback AWS emulator (moto).

  - SigV4 service detection: the credential scope's region and service, the
    wire protocol of a service's errors, the call's operation name;
  - Handler: a request handler that reads a request's body (chunked or not),
    answers itself or forwards to the upstream and relays the answer, and
    logs with the proxy's own prefix ("<name>: ");
  - the flags and checks of --upstream, --port, --port-file,
    --stop-on-stdin-eof and -v;
  - serve(): the server's life from listening to a clean stop.

Python 3 standard library only. Imported by the scripts from their own
directory (run as `python3 scripts/<name>.py`, Python puts scripts/ on
sys.path).
"""

import http.client
import http.server
import ipaddress
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse

# Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy sets itself.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "expect", "content-length",
}
# Groups: the scope's region and service.
CREDENTIAL_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")

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


def scope_of(headers, credential=None):
    """(region, service) of a request's SigV4 credential scope, from its
    Authorization header, else from CREDENTIAL (the value of a presigned
    URL's X-Amz-Credential), else (None, None)."""
    m = CREDENTIAL_RE.search(headers.get("Authorization", ""))
    if m:
        return m.group(1), m.group(2)
    parts = (credential or "").split("/")
    return (parts[2], parts[3]) if len(parts) == 5 else (None, None)


def service_of(headers, query):
    """The SigV4 service name of a request (Authorization header, else a
    presigned URL's X-Amz-Credential in QUERY), or None."""
    cred = urllib.parse.parse_qs(query).get("X-Amz-Credential")
    return scope_of(headers, cred[0] if cred else None)[1]


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


class Handler(http.server.BaseHTTPRequestHandler):
    """A proxy's request handler. A subclass sets `name` (and server_version)
    and defines handle_any() (every method lands there) and
    upstream_failed() (counts a failed forward)."""

    protocol_version = "HTTP/1.1"  # keep-alive with the SDK's connection pool
    name = "awsproxy"  # the log prefix
    # Set on the class by main().
    upstream = ("127.0.0.1", 0)
    delay = 0.0  # seconds slept before every answer
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write(f"{self.name}: {fmt % args}\n")

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

    def json_reply(self, status, doc):
        self.reply(status, [("Content-Type", "application/json")], json.dumps(doc).encode())

    def put_headers(self, conn):
        """Copies the request's end-to-end headers onto CONN's request."""
        for k, v in self.headers.items():
            if k.lower() not in HOP_BY_HOP:
                conn.putheader(k, v)

    def fetch(self, body, drop=HOP_BY_HOP):
        """Sends the request upstream: (status, headers, data, head_length) of
        the answer, its headers without those named in DROP (lower case), or
        None if the upstream failed (then the failure is counted and logged
        and a 502 sent)."""
        host, port = self.upstream
        conn = http.client.HTTPConnection(host, port, timeout=300)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            self.put_headers(conn)
            if body or "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in drop]
            head_length = resp.getheader("Content-Length", "0") if self.command == "HEAD" else None
        except (OSError, http.client.HTTPException) as e:
            self.upstream_failed()
            sys.stderr.write(f"{self.name}: upstream {host}:{port} failed for {self.command} {self.path}: {e}\n")
            self.reply(502, [("Content-Type", "text/plain")], f"{self.name}: upstream failed: {e}\n".encode())
            return None
        finally:
            conn.close()
        return resp.status, headers, data, head_length

    def upstream_failed(self):
        pass

    def handle_any(self):
        raise NotImplementedError

    def _dispatch(self):
        self.handle_any()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch


def add_upstream_args(p, prefix):
    """--upstream and --port, defaults from env PREFIX_UPSTREAM (else
    ANALYTICS_MOTO_URL) and PREFIX_PORT."""
    p.add_argument("--upstream", default=env(f"{prefix}_UPSTREAM", env("ANALYTICS_MOTO_URL")),
                   help="the emulator's URL, e.g. http://127.0.0.1:5000 (loopback only)")
    p.add_argument("--port", type=int, default=int(env(f"{prefix}_PORT", "0")),
                   help="port on 127.0.0.1 (default: a free one)")


def add_run_args(p, prefix, verbose_help):
    """--port-file (default from env PREFIX_PORT_FILE), --stop-on-stdin-eof, -v."""
    p.add_argument("--port-file", default=env(f"{prefix}_PORT_FILE"), help="write the port here once listening")
    p.add_argument("--stop-on-stdin-eof", action="store_true",
                   help="also stop when stdin closes (give it a pipe from the parent)")
    p.add_argument("-v", "--verbose", action="store_true", help=verbose_help)


def check_upstream(p, a, prefix):
    """Checks a.upstream (an http URL of a loopback host) and sets
    a.upstream_addr to its (host, port); errors through parser P."""
    if not a.upstream:
        p.error(f"--upstream is required (or {prefix}_UPSTREAM / ANALYTICS_MOTO_URL)")
    u = urllib.parse.urlsplit(a.upstream)
    if u.scheme != "http" or not u.hostname:
        p.error(f"--upstream {a.upstream!r}: expected http://HOST[:PORT]")
    if not loopback(u.hostname):
        p.error(f"--upstream {a.upstream!r}: only a loopback upstream is allowed")
    a.upstream_addr = (u.hostname, u.port or 80)


def serve(handler, a, settings, snapshot):
    """Serves HANDLER (its upstream set) on 127.0.0.1:a.port, writes the port
    to a.port_file (atomically), logs "<name>: http://... -> http://...
    SETTINGS", and runs until SIGTERM or SIGINT (or, with
    a.stop_on_stdin_eof, stdin's end); then logs SNAPSHOT() and returns 0."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler)
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
    host, upstream_port = handler.upstream
    sys.stderr.write(f"{handler.name}: http://127.0.0.1:{port} -> http://{host}:{upstream_port} {settings}\n")
    sys.stderr.flush()
    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    sys.stderr.write(f"{handler.name}: stopped; {json.dumps(snapshot())}\n")
    return 0
