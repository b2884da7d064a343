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
With --lose-first OPS, the first answer to each named operation (the query
Action or JSON target, e.g. ImportKeyPair) is lost, whatever the draws: a
test of chosen calls that does not hang on the order concurrent calls arrive.

Listens on 127.0.0.1 only and forwards to a loopback upstream only. Stops
cleanly on SIGTERM or SIGINT (and, with --stop-on-stdin-eof, when its stdin
closes, so that it cannot outlive a parent that dies without cleaning up).
Python 3 standard library only.

  fault-proxy.py --upstream http://127.0.0.1:5000 --fault-rate 0.1 \\
      --kinds throttle,500 --seed 7 --port-file /tmp/p
Every flag also reads an env var: FAULT_PROXY_UPSTREAM (else
ANALYTICS_MOTO_URL), FAULT_PROXY_PORT, FAULT_PROXY_RATE, FAULT_PROXY_KINDS,
FAULT_PROXY_DELAY_MS, FAULT_PROXY_SEED, FAULT_PROXY_LOSE_FIRST, FAULT_PROXY_PORT_FILE.
"""

import argparse
import json
import random
import sys
import threading
import urllib.parse
import uuid

import awsproxy
from awsproxy import add_run_args, add_upstream_args, check_upstream, env, operation, protocol_of, service_of, xml

KINDS = ("throttle", "500", "lost")
STATS_PATH = "/fault-proxy/stats"


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
        self.lose_ops = set()
        self.lost_ops = set()

    def lose_first(self, op, service):
        """Whether this request is the first of an operation named by
        --lose-first (its answer is then lost); consumes no draw."""
        with self.lock:
            if op not in self.lose_ops or op in self.lost_ops:
                return False
            self.lost_ops.add(op)
            self.by_kind["lost"] = self.by_kind.get("lost", 0) + 1
            key = f"{service}:lost"
            self.by_service[key] = self.by_service.get(key, 0) + 1
            return True

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


class Handler(awsproxy.Handler):
    server_version = name = "fault-proxy"
    # Set on the class by main().
    faults = None

    def handle_any(self):
        body = self.read_body()
        path = self.path
        if self.command == "GET" and path == STATS_PATH and "Authorization" not in self.headers:
            self.json_reply(200, self.faults.snapshot())
            return
        query = urllib.parse.urlsplit(path).query
        if not path.startswith("/moto-api/"):
            service = service_of(self.headers, query)
            protocol = protocol_of(service, self.headers.get("Content-Type"))
            op = operation(self.headers, body)
            if protocol and self.faults.lose_first(op, service):
                kind = "lost"
            else:
                kind = self.faults.draw(service) if protocol else None
            if kind:
                self.log_message("%s %s %s %s -> fault %s", service, op, self.command,
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
        answer = self.fetch(body)
        if answer is None:
            return False
        if relay:
            self.faults.count("forwarded")
            self.reply(*answer)
        return True

    def upstream_failed(self):
        self.faults.count("upstream_errors")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_upstream_args(p, "FAULT_PROXY")
    p.add_argument("--fault-rate", type=float, default=float(env("FAULT_PROXY_RATE", "0.1")),
                   help="share of requests answered with a fault, 0 to 1 (default 0.1)")
    p.add_argument("--kinds", default=env("FAULT_PROXY_KINDS", "throttle,500"),
                   help="comma-separated fault kinds, drawn evenly: throttle, 500, lost (default throttle,500)")
    p.add_argument("--delay-ms", type=int, default=int(env("FAULT_PROXY_DELAY_MS", "0")),
                   help="latency added to every answer, in ms (default 0)")
    p.add_argument("--seed", type=int, default=None if env("FAULT_PROXY_SEED") is None
                   else int(env("FAULT_PROXY_SEED")), help="seed of the fault draws (default: random)")
    p.add_argument("--lose-first", default=env("FAULT_PROXY_LOSE_FIRST", ""), metavar="OPS",
                   help="comma-separated operations whose first answer is lost (default none)")
    add_run_args(p, "FAULT_PROXY", "log each request and fault on stderr")
    a = p.parse_args(argv)
    check_upstream(p, a, "FAULT_PROXY")
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
    Handler.faults.lose_ops = {o.strip() for o in a.lose_first.split(",") if o.strip()}
    Handler.delay = a.delay_ms / 1000.0
    Handler.verbose = a.verbose
    return awsproxy.serve(Handler, a, f"(fault rate {a.fault_rate}, kinds {','.join(a.kinds)},"
                          f" delay {a.delay_ms} ms, seed {a.seed})", Handler.faults.snapshot)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
