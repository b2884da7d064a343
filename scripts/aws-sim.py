#!/usr/bin/env python3
"""Strict AWS simulation: an HTTP proxy in front of the local emulator (moto)
that behaves the way real AWS does where moto is instant and forgiving.

Every behaviour is a named rule. Rules are off unless enabled (--rules, or
env AWS_SIM_RULES: `all`, or a comma-separated list of names); with none
enabled the proxy is transparent. A rule either answers a request itself,
WITHOUT forwarding it (the error real AWS sends, in the service's wire
format), or rewrites the emulator's answer (a state real AWS shows for a
while). Each firing writes one line to stderr:

    aws-sim: rule <name> fired: <Operation> <resource> -> <code or state>

and is counted. Time windows last DELAY (--delay-ms, default 1500; tests use
short ones; --rule-delay-ms RULE=MS,... overrides it per rule) from the
moment the emulator answered the create/update that opened them.

Rules (trigger -> answer; where the real code and message come from):

  sg-not-visible       DELAY after CreateSecurityGroup returned group X, EC2
                       calls naming X (Authorize/RevokeSecurityGroupIngress/
                       Egress incl. source groups, CreateTags, RunInstances,
                       CreateNetworkInterface, Modify*Attribute,
                       DescribeSecurityGroups GroupId.N)
                       -> 400 InvalidGroup.NotFound "The security group 'X'
                       does not exist"; RDS CreateDBInstance/ModifyDBInstance
                       with X in VpcSecurityGroupIds -> 400
                       InvalidParameterValue "Invalid security group ,
                       groupId= X, groupName=." (RDS has no group-not-found
                       code: it answers InvalidParameterValue).
                       Sources: AWS EC2 API guide "Eventual consistency";
                       aws/aws-sdk-js#318, boto/boto3#620 (CreateTags),
                       StarCluster#413; terraform-provider-aws
                       internal/service/ec2/errors.go (errCodeInvalidGroupNotFound);
                       RDS message: fog/fog-aws rds mock and a user report of
                       real RDS ("Invalid security group , groupId= sg-...").
  igw-not-visible      DELAY after CreateInternetGateway returned X:
                       AttachInternetGateway, CreateTags, DescribeInternetGateways
                       naming X -> 400 InvalidInternetGatewayID.NotFound "The
                       internetGateway ID 'X' does not exist".
                       Source: terraform-provider-aws ec2/errors.go
                       (errCodeInvalidInternetGatewayIDNotFound, retried on attach).
  bucket-not-visible   DELAY after CreateBucket B (path-style): Put* on B
                       (PutBucketTagging/Policy/Encryption/Versioning/Acl/
                       OwnershipControls/..., PutPublicAccessBlock, PutObject)
                       -> 404 NoSuchBucket "The specified bucket does not exist".
                       Source: terraform-provider-aws internal/service/s3
                       (retries NoSuchBucket for bucketPropagationTimeout after create).
  bucket-operation-aborted
                       The first PutBucketPolicy, PutPublicAccessBlock,
                       PutBucketEncryption or PutBucketOwnershipControls on
                       each bucket created through the proxy (one per bucket
                       and sub-resource, not already answered by
                       bucket-not-visible) -> 409 OperationAborted "A
                       conflicting conditional operation is currently in
                       progress against this resource. Please try again."
                       Source: S3 error code list; terraform-provider-aws s3
                       (retries OperationAborted on bucket configuration).
  iam-not-propagated   DELAY after CreateUser/CreateRole/CreateInstanceProfile
                       (and AddRoleToInstanceProfile, which changes the
                       profile):
                       OpenSearch CreateDomain/UpdateDomainConfig (both APIs)
                       whose AccessPolicies names the user's/role's ARN -> 409
                       InvalidTypeException "Error setting policy: [<policy>]";
                       RunInstances/AssociateIamInstanceProfile with the
                       profile -> 400 InvalidParameterValue "Value (N) for
                       parameter iamInstanceProfile.name is invalid. Invalid
                       IAM Instance Profile name" (".arn ... Invalid IAM
                       Instance Profile ARN" when given by ARN);
                       S3 PutBucketPolicy naming the ARN -> 400 MalformedPolicy
                       "Invalid principal in policy"; IAM CreateRole/
                       UpdateAssumeRolePolicy whose document names it -> 400
                       MalformedPolicyDocument "Invalid principal in policy:
                       "AWS":"<arn>"".
                       Sources: hashicorp/terraform-provider-aws#11 and PR
                       #36281, cloudposse/terraform-aws-elasticsearch#57 (IAM
                       unique ids not yet available); kops and packer retry
                       "Invalid IAM Instance Profile name"; opstrace#88
                       (MalformedPolicyDocument: Invalid principal in policy).
  iam-concurrent-modification
                       The first AttachRolePolicy / PutRolePolicy of each
                       (role, policy) pair -> 409 ConcurrentModification "The
                       request was rejected because multiple requests to change
                       this object were submitted simultaneously. Wait a few
                       minutes and submit your request again."
                       Source: IAM API error list; terraform-provider-aws iam
                       (retries ConcurrentModification on attach).
  iam-policy-quota     AttachRolePolicy of a policy not yet attached to a role
                       that already has 10 managed policies (IAM's default
                       quota; moto has no limit) -> 409 LimitExceeded "Cannot
                       exceed quota for PoliciesPerRole: 10". The proxy reads
                       the role's policies from the emulator first.
                       Source: IAM quotas docs ("Managed policies attached to
                       an IAM role: 10"); the LimitExceeded code of IAM's API.
  es-processing        DELAY after CreateDomain / UpdateDomainConfig succeeded:
                       its answer and DescribeDomain(s) (both APIs) show
                       Processing=true, DomainProcessingStatus Creating /
                       Modifying and, after a create, no Endpoint(s);
                       UpdateDomainConfig meanwhile -> 400 ValidationException
                       "A change/update is in progress. Please wait for it to
                       complete before requesting another change." (not a
                       409 ConflictException: real OpenSearch answers this);
                       DescribeDomainChangeProgress is answered (PROCESSING /
                       COMPLETED).
                       Source: terraform-provider-aws internal/service/opensearch
                       (retries that ValidationException message; waits on
                       Processing / Endpoint).
  es-old-types         CreateDomain/UpdateDomainConfig with a t2.* data, master
                       or warm instance type -> 409 InvalidTypeException
                       "Invalid instance type: <type>"; EngineVersion
                       Elasticsearch_1.5 / Elasticsearch_2.3 (or
                       ElasticsearchVersion 1.5 / 2.3 on the 2015 API) -> 400
                       ValidationException "<version> is not a supported engine
                       version in this region." (code as real; the message
                       wording is ours: no real sample found).
                       Source: aws-solutions/workload-discovery-on-aws#505
                       ("Invalid instance type: t2.micro.search", status 409),
                       awsdocs opensearch guide#6.
  es-async-failure     A domain whose name matches --es-fail-pattern (default
                       "esfail") or registered through POST
                       /aws-sim/fail-domain: its create succeeds, it is
                       Processing (Creating) for DELAY, then DescribeDomain(s)
                       show Processing=false, no Endpoint,
                       DomainProcessingStatus "Isolated" and
                       ChangeProgressDetails {ConfigChangeStatus:
                       "ValidationFailed", Message: <reason>};
                       DescribeDomainChangeProgress answers Status "FAILED" with
                       a failed "Validation" stage carrying the reason. Part of
                       `all` (the default pattern matches no normal name).
                       Modelled on the fields the OpenSearch API has for it
                       (ChangeProgressDetails, DomainProcessingStatus,
                       ChangeProgressStatus); the exact sequence real AWS shows
                       varies with the cause (subnet IPs, KMS, service role).
  rds-states           After CreateDBInstance, DescribeDBInstances (and the
                       create's answer) show DBInstanceStatus creating (first
                       40% of DELAY, no Endpoint), backing-up (to 70%),
                       storage-optimization (to 100%), then the emulator's own;
                       DELAY after ModifyDBInstance: modifying. ModifyDBInstance
                       while creating / backing-up / modifying -> 400
                       InvalidDBInstanceState "Database instance is not in
                       available state." (storage-optimization accepts it, as
                       on AWS for non-storage changes).
                       Source: RDS DB instance status docs; terraform-provider-aws
                       rds (waits list creating, backing-up, modifying,
                       storage-optimization; retries InvalidDBInstanceState).
  ec2-pending          DELAY after RunInstances: the instances show state
                       pending (code 0) in its answer and in DescribeInstances
                       (dropped from answers filtered on instance-state-name
                       without pending); AssociateAddress /
                       AssociateIamInstanceProfile on them -> 400
                       IncorrectInstanceState "The instance 'I' is not in a
                       valid state for this operation."
                       Source: EC2 API error codes (IncorrectInstanceState).
  ec2-old-types        RunInstances with a t2.* type -> 400 Unsupported "The
                       requested configuration is currently not supported.
                       Please check the documentation for supported
                       configurations."; DescribeInstanceTypeOfferings and
                       DescribeInstanceTypes answers lose every t2.* type.
                       Source: trailofbits/algo#1285 (t2 not in eu-north-1),
                       aws-cloudformation-templates#292 (af-south-1).
  ecdsa-key-refused    ImportKeyPair with a key other than ssh-rsa / ssh-ed25519
                       (ecdsa-sha2-*, ssh-dss, sk-*) -> 400 InvalidKey.Format
                       "Key is not in valid OpenSSH public key format" (moto
                       answers InvalidKeyPair.Format).
                       Source: StreisandEffect/streisand#1171 (ECDSA key).
  bucket-other-region  A bucket registered as in another region (POST
                       /aws-sim/foreign-bucket?name=B&region=R, or
                       --foreign-bucket B=R): HeadBucket -> 301, no body,
                       header x-amz-bucket-region: R; other calls -> 301
                       PermanentRedirect (XML with Endpoint, Bucket) and the
                       header; GetBucketLocation -> 200 with R (as S3 answers
                       from any region); CreateBucket -> 409
                       BucketAlreadyOwnedByYou. Compared with the request's
                       SigV4 region.
                       Source: S3 HeadBucket / error responses docs.
  bucket-other-account A bucket registered with owner=other (POST
                       /aws-sim/foreign-bucket?name=B&owner=other[&region=R]):
                       after the region check above, every call -> 403
                       AccessDenied "Access Denied" (HEAD: no body);
                       CreateBucket -> 409 BucketAlreadyExists.
                       Source: S3 error responses docs.

Not simulated, and why:
  - Stale or empty reads (a Describe/List by filter, ListBuckets, GetRole
    missing what was just created): AWS does not document when they happen
    and the tools already treat "not found by filter" as "create"; only the
    by-id refusals AWS documents are simulated.
  - EMR RunJobFlow with a role or instance profile created seconds ago (AWS:
    ValidationException on the instance profile): EMR is not in deploy.sh's
    first run and moto accepts nonexistent roles, so nothing would reach it.
  - Capacity and account limits other than the role policy quota
    (InsufficientInstanceCapacity, vCPU, Elastic IP or VPC limits): they
    depend on the account, not on the order of calls.
  - DescribeInstanceStatus, public addresses missing while pending, RDS
    PendingModifiedValues without ApplyImmediately, DescribeDomainConfig
    states: the tools do not read them.
  - The real duration of each state, and regional differences beyond t2 and
    Elasticsearch 1.5/2.3: the windows are one configurable DELAY.
  - S3 virtual-host addressing and per-account tracking: tests address the
    emulator path-style and give resources unique names.

Control endpoints (requests without an Authorization header):
  GET  /aws-sim/stats   {"fired": {rule: count}, "forwarded": N, "rules": [...],
                         "delay_ms": D, "upstream_errors": N}
  POST /aws-sim/reset   forget every tracked resource, registration and count
  POST /aws-sim/foreign-bucket?name=B[&region=R][&owner=other]
  POST /aws-sim/fail-domain?name=D[&reason=TEXT]
  POST /aws-sim/config?rules=LIST[&delay_ms=D]   switch rules while running
Requests under /moto-api/ are always forwarded.

Resources are tracked by name or id only (not by account): tests give them
unique names. S3 is understood in path-style addressing only (what the tools
and tests use against the emulator). Listens on 127.0.0.1 only, forwards to a
loopback upstream only; stops cleanly on SIGTERM/SIGINT and, with
--stop-on-stdin-eof, when stdin closes. Python 3 standard library only; the
forwarding, service detection and error shapes follow scripts/fault-proxy.py.

  aws-sim.py --upstream http://127.0.0.1:5000 --rules all --delay-ms 500 \\
      --port-file /tmp/p --stop-on-stdin-eof
Env: AWS_SIM_UPSTREAM (else ANALYTICS_MOTO_URL), AWS_SIM_PORT, AWS_SIM_RULES,
AWS_SIM_DELAY_MS, AWS_SIM_RULE_DELAY_MS, AWS_SIM_PORT_FILE,
AWS_SIM_ES_FAIL_PATTERN, AWS_SIM_FOREIGN_BUCKETS (B=R,...).
"""

import argparse
import base64
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import awsproxy
from awsproxy import HOP_BY_HOP, PROTOCOLS, add_run_args, add_upstream_args, check_upstream, env, scope_of, xml

RULES = (
    "sg-not-visible",
    "igw-not-visible",
    "bucket-not-visible",
    "bucket-operation-aborted",
    "iam-not-propagated",
    "iam-concurrent-modification",
    "iam-policy-quota",
    "es-processing",
    "es-old-types",
    "es-async-failure",
    "rds-states",
    "ec2-pending",
    "ec2-old-types",
    "ecdsa-key-refused",
    "bucket-other-region",
    "bucket-other-account",
)
CONTROL = "/aws-sim/"
# Headers of the emulator's answers not relayed: Server and Date are this
# proxy's own (no header twice).
NOT_RELAYED = HOP_BY_HOP | {"server", "date"}

# EC2 calls that fail while a group they name is not yet visible.
SG_ACTIONS = {
    "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress", "CreateTags", "DeleteTags", "RunInstances", "CreateNetworkInterface",
    "ModifyInstanceAttribute", "ModifyNetworkInterfaceAttribute", "ModifySecurityGroupRules",
    "UpdateSecurityGroupRuleDescriptionsIngress", "UpdateSecurityGroupRuleDescriptionsEgress",
}
IGW_ACTIONS = {"AttachInternetGateway", "CreateTags", "DescribeInternetGateways"}
ABORTABLE = {"PutBucketPolicy", "PutPublicAccessBlock", "PutBucketEncryption", "PutBucketOwnershipControls"}
OLD_ES_VERSIONS = {"Elasticsearch_1.5", "Elasticsearch_2.3", "1.5", "2.3"}
ROLE_POLICY_QUOTA = 10  # managed policies per role, IAM's default quota

# (method, path regex, operation) of the OpenSearch/Elasticsearch REST API.
ES_ROUTES = [
    (m, re.compile(p), op) for m, p, op in (
        ("POST", r"^/2021-01-01/opensearch/domain$", "CreateDomain"),
        ("GET", r"^/2021-01-01/opensearch/domain/(?P<name>[^/]+)$", "DescribeDomain"),
        ("DELETE", r"^/2021-01-01/opensearch/domain/(?P<name>[^/]+)$", "DeleteDomain"),
        ("POST", r"^/2021-01-01/opensearch/domain/(?P<name>[^/]+)/config$", "UpdateDomainConfig"),
        ("GET", r"^/2021-01-01/opensearch/domain/(?P<name>[^/]+)/config$", "DescribeDomainConfig"),
        ("GET", r"^/2021-01-01/opensearch/domain/(?P<name>[^/]+)/progress$", "DescribeDomainChangeProgress"),
        ("POST", r"^/2021-01-01/opensearch/domain-info$", "DescribeDomains"),
        ("GET", r"^/2021-01-01/domain$", "ListDomainNames"),
        ("POST", r"^/2015-01-01/es/domain$", "CreateElasticsearchDomain"),
        ("GET", r"^/2015-01-01/es/domain/(?P<name>[^/]+)$", "DescribeElasticsearchDomain"),
        ("DELETE", r"^/2015-01-01/es/domain/(?P<name>[^/]+)$", "DeleteElasticsearchDomain"),
        ("POST", r"^/2015-01-01/es/domain/(?P<name>[^/]+)/config$", "UpdateElasticsearchDomainConfig"),
        ("GET", r"^/2015-01-01/es/domain/(?P<name>[^/]+)/config$", "DescribeElasticsearchDomainConfig"),
        ("GET", r"^/2015-01-01/es/domain/(?P<name>[^/]+)/progress$", "DescribeDomainChangeProgress"),
        ("POST", r"^/2015-01-01/es/domain-info$", "DescribeElasticsearchDomains"),
        ("GET", r"^/2015-01-01/domain$", "ListDomainNames"),
    )
]
ES_CREATE = {"CreateDomain", "CreateElasticsearchDomain"}
ES_UPDATE = {"UpdateDomainConfig", "UpdateElasticsearchDomainConfig"}
ES_DESCRIBE = {"DescribeDomain", "DescribeElasticsearchDomain", "DescribeDomains", "DescribeElasticsearchDomains"}
ES_DELETE = {"DeleteDomain", "DeleteElasticsearchDomain"}

# S3 sub-resources (query keys) that name a bucket operation.
S3_SUBRESOURCES = {
    "accelerate": "AccelerateConfiguration", "acl": "Acl", "analytics": "AnalyticsConfiguration",
    "cors": "Cors", "delete": "Objects", "encryption": "Encryption",
    "intelligent-tiering": "IntelligentTieringConfiguration", "inventory": "InventoryConfiguration",
    "lifecycle": "LifecycleConfiguration", "location": "Location", "logging": "Logging",
    "metrics": "MetricsConfiguration", "notification": "NotificationConfiguration",
    "object-lock": "ObjectLockConfiguration", "ownershipControls": "OwnershipControls", "policy": "Policy",
    "policyStatus": "PolicyStatus", "publicAccessBlock": "PublicAccessBlock", "replication": "Replication",
    "requestPayment": "RequestPayment", "tagging": "Tagging", "uploads": "MultipartUploads",
    "versioning": "Versioning", "versions": "ObjectVersions", "website": "Website",
}


def esc(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class Answer:
    """A reply the proxy sends itself: status, headers, body."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


def error(protocol, status, code, message, method="POST", extra=""):
    """An AWS error of PROTOCOL's wire format (as scripts/fault-proxy.py)."""
    rid = str(uuid.uuid4())
    if protocol == "ec2":
        body = xml(f"<Response><Errors><Error><Code>{code}</Code><Message>{esc(message)}</Message></Error>"
                   f"</Errors><RequestID>{rid}</RequestID></Response>")
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    elif protocol == "query":
        body = xml(f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{esc(message)}"
                   f"</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
    elif protocol == "restjson":
        body = json.dumps({"message": message})
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", rid)]
    elif protocol == "s3":
        body = xml(f"<Error><Code>{code}</Code><Message>{esc(message)}</Message>{extra}<RequestId>{rid}"
                   f"</RequestId><HostId>aws-sim</HostId></Error>")
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid), ("x-amz-id-2", "aws-sim")]
    else:
        raise ValueError(f"no error format for protocol {protocol!r}")
    return Answer(status, headers, b"" if method == "HEAD" else body.encode())


class Call:
    """One request, parsed as far as the rules need."""

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        split = urllib.parse.urlsplit(path)
        self.route = urllib.parse.unquote(split.path)
        self.query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        self.region, self.service = scope_of(headers, self.query.get("X-Amz-Credential"))
        self.protocol = PROTOCOLS.get(self.service)
        ctype = headers.get("Content-Type", "").lower()
        if self.protocol is None and self.service and ctype.startswith("application/x-www-form-urlencoded"):
            self.protocol = "query"
        self.pairs = []
        if self.protocol in ("ec2", "query"):
            text = body.decode("utf-8", "replace") if ctype.startswith("application/x-www-form-urlencoded") \
                else split.query
            self.pairs = urllib.parse.parse_qsl(text, keep_blank_values=True)
        self.form = dict(self.pairs)
        self.op = ""
        self.domain = None  # OpenSearch domain named in the path
        self.bucket = self.key = None
        if self.protocol in ("ec2", "query"):
            self.op = self.form.get("Action", "")
        elif self.protocol == "restjson" and self.service == "es":
            for m_, rx, op in ES_ROUTES:
                mm = rx.match(self.route)
                if mm and m_ == method:
                    self.op = op
                    self.domain = mm.groupdict().get("name")
                    break
        elif self.protocol == "s3":
            self._s3()
        elif headers.get("X-Amz-Target"):
            self.op = headers["X-Amz-Target"].rsplit(".", 1)[-1]
        self._json = None
        # The role's attached policies (iam-policy-quota), read before the rules run.
        self.attached_policies = None

    def _s3(self):
        parts = self.route.lstrip("/").split("/", 1)
        self.bucket = parts[0] or None
        self.key = parts[1] if len(parts) > 1 and parts[1] else None
        sub = next((k for k in self.query if k in S3_SUBRESOURCES), None)
        if self.query.get("x-id"):
            self.op = self.query["x-id"]
        elif self.bucket is None:
            self.op = "ListBuckets"
        elif self.key is not None:
            self.op = {"PUT": "CopyObject" if "x-amz-copy-source" in self.headers else "PutObject",
                       "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject",
                       "POST": "PostObject"}.get(self.method, self.method)
            if sub == "tagging":
                self.op = {"PUT": "PutObjectTagging", "GET": "GetObjectTagging"}.get(self.method, self.op)
        elif sub:
            name = S3_SUBRESOURCES[sub]
            if sub == "location":
                self.op = "GetBucketLocation"
            elif sub == "publicAccessBlock":
                self.op = {"PUT": "PutPublicAccessBlock", "GET": "GetPublicAccessBlock",
                           "DELETE": "DeletePublicAccessBlock"}.get(self.method, self.method)
            elif sub == "delete":
                self.op = "DeleteObjects"
            else:
                verb = {"PUT": "Put", "GET": "Get", "DELETE": "Delete", "POST": "Post"}.get(self.method, "")
                self.op = f"{verb}Bucket{name}"
        else:
            self.op = {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket",
                       "GET": "ListObjects"}.get(self.method, self.method)

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body or b"{}")
            except ValueError:
                self._json = {}
        return self._json

    def values(self):
        return [v for _, v in self.pairs]

    def listed(self, prefix):
        """Values of PREFIX.1, PREFIX.2, ... (also PREFIX itself)."""
        return [v for k, v in self.pairs if k == prefix or re.fullmatch(re.escape(prefix) + r"\.\d+", k)]

    def filters(self):
        """{filter name: [values]} of an EC2 Describe call."""
        names = {}
        for k, v in self.pairs:
            m = re.fullmatch(r"Filter\.(\d+)\.Name", k)
            if m:
                names[m.group(1)] = v
        out = {}
        for n, name in names.items():
            out[name] = [v for k, v in self.pairs if re.fullmatch(rf"Filter\.{n}\.Value\.\d+", k)]
        return out


def parse_xml(data):
    """(root, default namespace) of an XML answer, or (None, None)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None, None
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    return root, ns


def dump_xml(root, ns):
    text = ET.tostring(root, encoding="unicode", default_namespace=ns or None)
    return xml(text).encode()


def q(ns, *names):
    return "/".join(f"{{{ns}}}{n}" if ns else n for n in names)


def es_status_blocks(doc):
    """The DomainStatus objects of an OpenSearch answer."""
    if isinstance(doc.get("DomainStatus"), dict):
        yield doc["DomainStatus"]
    for s in doc.get("DomainStatusList") or []:
        if isinstance(s, dict):
            yield s


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Sim:
    """The rules and what they remember. One lock guards all state."""

    def __init__(self, rules, delay_ms, rule_delays, es_fail_pattern, foreign):
        self.lock = threading.Lock()
        self.rules = set(rules)
        self.delay_ms = delay_ms
        self.rule_delays = dict(rule_delays)
        self.es_fail_re = re.compile(es_fail_pattern) if es_fail_pattern else None
        self.initial_foreign = dict(foreign)
        self.reset()

    def reset(self):
        with self.lock:
            self.fired = {}
            self.forwarded = 0
            self.upstream_errors = 0
            self.groups = {}         # sg id -> created at
            self.gateways = {}       # igw id -> created at
            self.buckets = {}        # bucket -> created at
            self.aborted = set()     # (bucket, op) answered OperationAborted
            self.principals = {}     # user/role ARN -> created at
            self.profiles = {}       # instance profile name or ARN -> created/changed at
            self.attached = set()    # (role, policy) answered ConcurrentModification
            self.domains = {}        # domain -> {"since", "phase", "fail"}
            self.failing = {}        # domain -> reason (registered)
            self.dbs = {}            # DB instance id -> {"since", "phase"}
            self.instances = {}      # instance id -> launched at
            self.foreign = {b: {"region": r, "owner": "self"} for b, r in self.initial_foreign.items()}

    # --- bookkeeping -------------------------------------------------------

    def on(self, rule):
        return rule in self.rules

    def delay(self, rule):
        return self.rule_delays.get(rule, self.delay_ms) / 1000.0

    def within(self, t, rule, now=None):
        return t is not None and ((now or time.monotonic()) - t) < self.delay(rule)

    def fire(self, rule, op, resource, outcome):
        self.fired[rule] = self.fired.get(rule, 0) + 1
        sys.stderr.write(f"aws-sim: rule {rule} fired: {op or '?'} {resource} -> {outcome}\n")
        sys.stderr.flush()

    def snapshot(self):
        with self.lock:
            return {
                "fired": dict(sorted(self.fired.items())),
                "forwarded": self.forwarded,
                "upstream_errors": self.upstream_errors,
                "rules": sorted(self.rules, key=RULES.index),
                "delay_ms": self.delay_ms,
            }

    # --- before forwarding: answer or pass -----------------------------------

    def before(self, c):
        with self.lock:
            for check in (self._sg, self._igw, self._iam_use, self._iam_quota, self._iam_concurrent,
                          self._es_before, self._rds_before, self._ec2_before, self._s3_before):
                a = check(c)
                if a is not None:
                    return a
        return None

    def _sg(self, c):
        if not self.on("sg-not-visible"):
            return None
        now = time.monotonic()
        if c.service == "ec2" and (c.op in SG_ACTIONS or c.op == "DescribeSecurityGroups"):
            names = c.listed("GroupId") if c.op == "DescribeSecurityGroups" else c.values()
            for v in names:
                if self.within(self.groups.get(v), "sg-not-visible", now):
                    self.fire("sg-not-visible", c.op, v, "InvalidGroup.NotFound")
                    return error("ec2", 400, "InvalidGroup.NotFound", f"The security group '{v}' does not exist")
        if c.service == "rds" and c.op in ("CreateDBInstance", "ModifyDBInstance"):
            for k, v in c.pairs:
                if k.startswith("VpcSecurityGroupIds.") and self.within(self.groups.get(v), "sg-not-visible", now):
                    self.fire("sg-not-visible", c.op, v, "InvalidParameterValue")
                    return error("query", 400, "InvalidParameterValue",
                                 f"Invalid security group , groupId= {v}, groupName=.")
        return None

    def _igw(self, c):
        if not (self.on("igw-not-visible") and c.service == "ec2" and c.op in IGW_ACTIONS):
            return None
        names = c.listed("InternetGatewayId") if c.op != "CreateTags" else c.listed("ResourceId")
        for v in names:
            if self.within(self.gateways.get(v), "igw-not-visible"):
                self.fire("igw-not-visible", c.op, v, "InvalidInternetGatewayID.NotFound")
                return error("ec2", 400, "InvalidInternetGatewayID.NotFound",
                             f"The internetGateway ID '{v}' does not exist")
        return None

    def _new_principal(self, text):
        """A principal ARN not yet propagated that TEXT names, or None."""
        now = time.monotonic()
        for arn, t in self.principals.items():
            if arn in text and self.within(t, "iam-not-propagated", now):
                return arn
        return None

    def _iam_use(self, c):
        if not self.on("iam-not-propagated"):
            return None
        rule = "iam-not-propagated"
        if c.service == "es" and (c.op in ES_CREATE or c.op in ES_UPDATE):
            policy = c.json.get("AccessPolicies")
            arn = self._new_principal(policy) if isinstance(policy, str) else None
            if arn:
                name = c.json.get("DomainName") or c.domain
                self.fire(rule, c.op, f"{name} ({arn})", "InvalidTypeException")
                return error("restjson", 409, "InvalidTypeException", f"Error setting policy: [{policy}]")
        if c.service == "ec2" and c.op in ("RunInstances", "AssociateIamInstanceProfile",
                                            "ReplaceIamInstanceProfileAssociation"):
            for field, what in (("Name", "name"), ("Arn", "ARN")):
                v = c.form.get(f"IamInstanceProfile.{field}")
                if v and self.within(self.profiles.get(v), rule):
                    self.fire(rule, c.op, v, "InvalidParameterValue")
                    return error("ec2", 400, "InvalidParameterValue",
                                 f"Value ({v}) for parameter iamInstanceProfile.{field.lower()} is invalid. "
                                 f"Invalid IAM Instance Profile {what}")
        if c.service == "s3" and c.op == "PutBucketPolicy":
            arn = self._new_principal(c.body.decode("utf-8", "replace"))
            if arn:
                self.fire(rule, c.op, f"{c.bucket} ({arn})", "MalformedPolicy")
                return error("s3", 400, "MalformedPolicy", "Invalid principal in policy", c.method)
        if c.service == "iam" and c.op in ("CreateRole", "UpdateAssumeRolePolicy"):
            doc = c.form.get("AssumeRolePolicyDocument") or c.form.get("PolicyDocument") or ""
            arn = self._new_principal(doc)
            if arn:
                self.fire(rule, c.op, f"{c.form.get('RoleName')} ({arn})", "MalformedPolicyDocument")
                return error("query", 400, "MalformedPolicyDocument", f'Invalid principal in policy: "AWS":"{arn}"')
        return None

    def _iam_concurrent(self, c):
        if not (self.on("iam-concurrent-modification") and c.service == "iam"
                and c.op in ("AttachRolePolicy", "PutRolePolicy")):
            return None
        pair = (c.form.get("RoleName"), c.form.get("PolicyArn") or c.form.get("PolicyName"))
        if pair in self.attached:
            return None
        self.attached.add(pair)
        self.fire("iam-concurrent-modification", c.op, f"{pair[0]} {pair[1]}", "ConcurrentModification")
        return error("query", 409, "ConcurrentModification", "The request was rejected because multiple requests "
                     "to change this object were submitted simultaneously. Wait a few minutes and submit your "
                     "request again.")

    def _iam_quota(self, c):
        attached = c.attached_policies
        if attached is None or not self.on("iam-policy-quota"):
            return None
        if c.form.get("PolicyArn") in attached or len(attached) < ROLE_POLICY_QUOTA:
            return None
        self.fire("iam-policy-quota", c.op, f"{c.form.get('RoleName')} ({len(attached)} attached)", "LimitExceeded")
        return error("query", 409, "LimitExceeded", f"Cannot exceed quota for PoliciesPerRole: {ROLE_POLICY_QUOTA}")

    def _es_before(self, c):
        if c.service != "es":
            return None
        if c.op in ES_CREATE | ES_UPDATE and self.on("es-old-types"):
            body = c.json
            cfg = body.get("ClusterConfig") or body.get("ElasticsearchClusterConfig") or {}
            for field in ("InstanceType", "DedicatedMasterType", "WarmType"):
                t = cfg.get(field) if isinstance(cfg, dict) else None
                if isinstance(t, str) and t.startswith("t2."):
                    self.fire("es-old-types", c.op, f"{body.get('DomainName') or c.domain} {t}",
                              "InvalidTypeException")
                    return error("restjson", 409, "InvalidTypeException", f"Invalid instance type: {t}")
            version = body.get("EngineVersion") or body.get("ElasticsearchVersion")
            if version in OLD_ES_VERSIONS:
                shown = version if version.startswith("Elasticsearch_") else f"Elasticsearch_{version}"
                self.fire("es-old-types", c.op, f"{body.get('DomainName') or c.domain} {version}",
                          "ValidationException")
                return error("restjson", 400, "ValidationException",
                             f"{shown} is not a supported engine version in this region.")
        if c.op in ES_UPDATE and self.on("es-processing"):
            d = self.domains.get(c.domain)
            if d and self.within(d["since"], "es-processing"):
                self.fire("es-processing", c.op, c.domain, "ValidationException")
                return error("restjson", 400, "ValidationException",
                             "A change/update is in progress. Please wait for it to complete before requesting "
                             "another change.")
        if c.op == "DescribeDomainChangeProgress" and c.domain in self.domains and (
                self.on("es-processing") or self.on("es-async-failure")):
            return self._es_progress(c)
        return None

    def _es_progress(self, c):
        d = self.domains[c.domain]
        processing = self.within(d["since"], "es-processing" if not d["fail"] else "es-async-failure")
        rule = "es-async-failure" if d["fail"] else "es-processing"
        if d["fail"] and not processing:
            status, stage = "FAILED", {"Name": "Validation", "Status": "failed", "Description": d["fail"],
                                       "LastUpdated": d["wall"] + self.delay(rule)}
        else:
            status = "PROCESSING" if processing else "COMPLETED"
            stage = {"Name": "Validation", "Status": "in_progress" if processing else "completed",
                     "Description": "Validating the configuration", "LastUpdated": time.time()}
        if not self.on(rule):
            return None
        self.fire(rule, c.op, c.domain, status)
        doc = {"ChangeProgressStatus": {
            "ChangeId": d["change_id"], "StartTime": d["wall"], "Status": status, "PendingProperties": [],
            "CompletedProperties": [], "TotalNumberOfStages": 1, "ChangeProgressStages": [stage]}}
        return Answer(200, [("Content-Type", "application/json")], json.dumps(doc).encode())

    def db_state(self, ident, now=None):
        """The status rds-states shows for IDENT, or None (the emulator's)."""
        d = self.dbs.get(ident)
        if d is None:
            return None
        elapsed = (now or time.monotonic()) - d["since"]
        total = self.delay("rds-states")
        if elapsed >= total:
            return None
        if d["phase"] == "modify":
            return "modifying"
        if elapsed < 0.4 * total:
            return "creating"
        if elapsed < 0.7 * total:
            return "backing-up"
        return "storage-optimization"

    def _rds_before(self, c):
        if not (self.on("rds-states") and c.service == "rds" and c.op == "ModifyDBInstance"):
            return None
        ident = c.form.get("DBInstanceIdentifier")
        state = self.db_state(ident)
        if state in ("creating", "backing-up", "modifying"):
            self.fire("rds-states", c.op, f"{ident} ({state})", "InvalidDBInstanceState")
            return error("query", 400, "InvalidDBInstanceState", "Database instance is not in available state.")
        return None

    def _ec2_before(self, c):
        if c.service != "ec2":
            return None
        if c.op == "RunInstances" and self.on("ec2-old-types"):
            t = c.form.get("InstanceType", "")
            if t.startswith("t2."):
                self.fire("ec2-old-types", c.op, t, "Unsupported")
                return error("ec2", 400, "Unsupported", "The requested configuration is currently not supported. "
                             "Please check the documentation for supported configurations.")
        if c.op in ("AssociateAddress", "AssociateIamInstanceProfile") and self.on("ec2-pending"):
            i = c.form.get("InstanceId")
            if i and self.within(self.instances.get(i), "ec2-pending"):
                self.fire("ec2-pending", c.op, i, "IncorrectInstanceState")
                return error("ec2", 400, "IncorrectInstanceState",
                             f"The instance '{i}' is not in a valid state for this operation.")
        if c.op == "ImportKeyPair" and self.on("ecdsa-key-refused"):
            raw = c.form.get("PublicKeyMaterial", "")
            try:
                text = base64.b64decode(raw, validate=True).decode("utf-8", "replace")
            except ValueError:
                text = raw
            kind = text.strip().split(" ", 1)[0]
            if kind.startswith(("ecdsa-", "ssh-dss", "sk-")):
                self.fire("ecdsa-key-refused", c.op, f"{c.form.get('KeyName')} ({kind})", "InvalidKey.Format")
                return error("ec2", 400, "InvalidKey.Format", "Key is not in valid OpenSSH public key format")
        return None

    def _s3_before(self, c):
        if c.service != "s3" or not c.bucket:
            return None
        f = self.foreign.get(c.bucket)
        if f and (self.on("bucket-other-region") or self.on("bucket-other-account")):
            a = self._foreign(c, f)
            if a is not None:
                return a
        put = c.op.startswith("Put") or c.op == "CopyObject"
        t = self.buckets.get(c.bucket)
        if put and self.on("bucket-not-visible") and self.within(t, "bucket-not-visible"):
            self.fire("bucket-not-visible", c.op, c.bucket, "NoSuchBucket")
            return error("s3", 404, "NoSuchBucket", "The specified bucket does not exist", c.method,
                         f"<BucketName>{esc(c.bucket)}</BucketName>")
        if c.op in ABORTABLE and t is not None and self.on("bucket-operation-aborted") \
                and (c.bucket, c.op) not in self.aborted:
            self.aborted.add((c.bucket, c.op))
            self.fire("bucket-operation-aborted", c.op, c.bucket, "OperationAborted")
            return error("s3", 409, "OperationAborted", "A conflicting conditional operation is currently in "
                         "progress against this resource. Please try again.", c.method)
        return None

    def _foreign(self, c, f):
        region = f["region"]
        if self.on("bucket-other-region") and region and c.region and region != c.region:
            if c.op == "GetBucketLocation":
                self.fire("bucket-other-region", c.op, c.bucket, region)
                body = xml('<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                           f'{"" if region == "us-east-1" else region}</LocationConstraint>')
                return Answer(200, [("Content-Type", "application/xml"), ("x-amz-bucket-region", region)],
                              body.encode())
            if c.op == "CreateBucket":
                code, status = ("BucketAlreadyExists", 409) if f["owner"] == "other" else (
                    "BucketAlreadyOwnedByYou", 409)
                self.fire("bucket-other-region", c.op, c.bucket, code)
                return self._exists(c, code, status)
            self.fire("bucket-other-region", c.op, f"{c.bucket} ({region})", "301 PermanentRedirect")
            a = error("s3", 301, "PermanentRedirect", "The bucket you are attempting to access must be addressed "
                      "using the specified endpoint. Please send all future requests to this endpoint.", c.method,
                      f"<Endpoint>{esc(c.bucket)}.s3.{region}.amazonaws.com</Endpoint>"
                      f"<Bucket>{esc(c.bucket)}</Bucket>")
            a.headers.append(("x-amz-bucket-region", region))
            return a
        if self.on("bucket-other-account") and f["owner"] == "other":
            if c.op == "CreateBucket":
                self.fire("bucket-other-account", c.op, c.bucket, "BucketAlreadyExists")
                return self._exists(c, "BucketAlreadyExists", 409)
            self.fire("bucket-other-account", c.op, c.bucket, "AccessDenied")
            a = error("s3", 403, "AccessDenied", "Access Denied", c.method)
            if region:
                a.headers.append(("x-amz-bucket-region", region))
            return a
        return None

    @staticmethod
    def _exists(c, code, status):
        msg = ("Your previous request to create the named bucket succeeded and you already own it."
               if code == "BucketAlreadyOwnedByYou" else
               "The requested bucket name is not available. The bucket namespace is shared by all users of the "
               "system. Please select a different name and try again.")
        return error("s3", status, code, msg, c.method, f"<BucketName>{esc(c.bucket)}</BucketName>")

    # --- after forwarding: learn and rewrite ----------------------------------

    def after(self, c, status, headers, data):
        with self.lock:
            ok = 200 <= status < 300
            if c.service == "ec2":
                data = self._ec2_after(c, ok, data)
            elif c.service == "iam" and ok:
                self._iam_after(c, data)
            elif c.service == "s3" and ok and c.op == "CreateBucket":
                self.buckets[c.bucket] = time.monotonic()
            elif c.service == "es":
                data = self._es_after(c, ok, data)
            elif c.service == "rds":
                data = self._rds_after(c, ok, data)
        return status, headers, data

    def _ec2_after(self, c, ok, data):
        if not ok:
            return data
        now = time.monotonic()
        if c.op == "CreateSecurityGroup":
            m = re.search(rb"<groupId>(sg-[0-9a-zA-Z]+)</groupId>", data)
            if m:
                self.groups[m.group(1).decode()] = now
        elif c.op == "CreateInternetGateway":
            m = re.search(rb"<internetGatewayId>(igw-[0-9a-zA-Z]+)</internetGatewayId>", data)
            if m:
                self.gateways[m.group(1).decode()] = now
        elif c.op == "RunInstances":
            for m in re.finditer(rb"<instanceId>(i-[0-9a-zA-Z]+)</instanceId>", data):
                self.instances[m.group(1).decode()] = now
            if self.on("ec2-pending"):
                data = self._pending(c, data, now)
        elif c.op == "DescribeInstances" and self.on("ec2-pending"):
            data = self._pending(c, data, now)
        elif c.op in ("DescribeInstanceTypeOfferings", "DescribeInstanceTypes") and self.on("ec2-old-types"):
            data = self._drop_t2(c, data)
        return data

    def _pending(self, c, data, now):
        pending = {i for i, t in self.instances.items() if self.within(t, "ec2-pending", now)}
        if not pending:
            return data
        root, ns = parse_xml(data)
        if root is None:
            return data
        states = c.filters().get("instance-state-name")
        changed = []
        for parent in list(root.iter()):
            for item in list(parent):
                if item.tag != q(ns, "item"):
                    continue
                iid = item.findtext(q(ns, "instanceId"))
                st = item.find(q(ns, "instanceState"))
                if iid not in pending or st is None:
                    continue
                if states is not None and "pending" not in states:
                    parent.remove(item)
                    changed.append((iid, "pending (left out: the filter asks for other states)"))
                    continue
                for tag, value in (("code", "0"), ("name", "pending")):
                    e = st.find(q(ns, tag))
                    if e is not None:
                        e.text = value
                changed.append((iid, "pending"))
        # Reservations left without instances are dropped, as AWS does.
        for rs in root.iter(q(ns, "reservationSet")):
            for r in list(rs):
                inst = r.find(q(ns, "instancesSet"))
                if inst is not None and len(inst) == 0:
                    rs.remove(r)
        if not changed:
            return data
        for iid, outcome in changed:
            self.fire("ec2-pending", c.op, iid, outcome)
        return dump_xml(root, ns)

    def _drop_t2(self, c, data):
        root, ns = parse_xml(data)
        if root is None:
            return data
        dropped = []
        for parent in list(root.iter()):
            for item in list(parent):
                t = item.findtext(q(ns, "instanceType"))
                if item.tag == q(ns, "item") and t and t.startswith("t2."):
                    parent.remove(item)
                    dropped.append(t)
        if not dropped:
            return data
        self.fire("ec2-old-types", c.op, f"{len(dropped)} t2.* types", "omitted")
        return dump_xml(root, ns)

    def _iam_after(self, c, data):
        now = time.monotonic()
        if c.op in ("CreateUser", "CreateRole"):
            m = re.search(rb"<Arn>([^<]+)</Arn>", data)
            if m:
                self.principals[m.group(1).decode()] = now
        elif c.op == "CreateInstanceProfile":
            m = re.search(rb"<Arn>([^<]+)</Arn>", data)
            if m:
                self.profiles[m.group(1).decode()] = now
            self.profiles[c.form.get("InstanceProfileName")] = now
        elif c.op == "AddRoleToInstanceProfile":
            name = c.form.get("InstanceProfileName")
            for k in list(self.profiles):
                if k == name or k.endswith(f":instance-profile/{name}") or k.endswith(f"/{name}"):
                    self.profiles[k] = now
            self.profiles[name] = now

    def _es_after(self, c, ok, data):
        now = time.monotonic()
        if ok and c.op in ES_CREATE:
            name = c.json.get("DomainName")
            fail = self.failing.get(name)
            if fail is None and self.es_fail_re and name and self.es_fail_re.search(name):
                fail = f"Creating the domain {name} failed: the simulated service could not validate its " \
                       f"configuration (aws-sim es-async-failure)."
            if fail and not self.on("es-async-failure"):
                fail = None
            self.domains[name] = {"since": now, "wall": time.time(), "phase": "create", "fail": fail,
                                  "change_id": str(uuid.uuid4())}
        elif ok and c.op in ES_UPDATE and c.domain in self.domains and not self.domains[c.domain]["fail"]:
            self.domains[c.domain].update(since=now, wall=time.time(), phase="update",
                                          change_id=str(uuid.uuid4()))
        elif ok and c.op in ES_UPDATE:
            self.domains[c.domain] = {"since": now, "wall": time.time(), "phase": "update", "fail": None,
                                      "change_id": str(uuid.uuid4())}
        elif ok and c.op in ES_DELETE:
            self.domains.pop(c.domain, None)
        if not ok or not (c.op in ES_CREATE or c.op in ES_DESCRIBE):
            return data
        try:
            doc = json.loads(data)
        except ValueError:
            return data
        changed = False
        for s in es_status_blocks(doc):
            changed |= self._es_rewrite(c, s, now)
        return json.dumps(doc).encode() if changed else data

    def _es_rewrite(self, c, s, now):
        d = self.domains.get(s.get("DomainName"))
        if d is None:
            return False
        rule = "es-async-failure" if d["fail"] else "es-processing"
        processing = self.within(d["since"], rule, now)
        if d["fail"] and self.on("es-async-failure"):
            if processing:
                self._processing(s, "create")
                self.fire(rule, c.op, s["DomainName"], "Processing=true (Creating)")
            else:
                s["Processing"] = False
                s.pop("Endpoint", None)
                s.pop("Endpoints", None)
                s["DomainProcessingStatus"] = "Isolated"
                s["ChangeProgressDetails"] = {
                    "ChangeId": d["change_id"], "ConfigChangeStatus": "ValidationFailed", "Message": d["fail"],
                    "InitiatedBy": "CUSTOMER", "StartTime": d["wall"], "LastUpdatedTime": d["wall"]}
                self.fire(rule, c.op, s["DomainName"], "ValidationFailed (Isolated)")
            return True
        if processing and self.on("es-processing"):
            self._processing(s, d["phase"])
            self.fire(rule, c.op, s["DomainName"],
                      f"Processing=true ({'Creating' if d['phase'] == 'create' else 'Modifying'})")
            return True
        return False

    @staticmethod
    def _processing(s, phase):
        s["Processing"] = True
        s["DomainProcessingStatus"] = "Creating" if phase == "create" else "Modifying"
        if phase == "create":
            s.pop("Endpoint", None)
            s.pop("Endpoints", None)

    def _rds_after(self, c, ok, data):
        now = time.monotonic()
        ident = c.form.get("DBInstanceIdentifier")
        if ok and c.op == "CreateDBInstance":
            self.dbs[ident] = {"since": now, "phase": "create"}
        elif ok and c.op == "ModifyDBInstance":
            self.dbs[ident] = {"since": now, "phase": "modify"}
        elif ok and c.op == "DeleteDBInstance":
            self.dbs.pop(ident, None)
            return data
        if not (ok and self.on("rds-states") and c.op in ("CreateDBInstance", "DescribeDBInstances")):
            return data
        if not any(self.db_state(i, now) for i in self.dbs):
            return data
        root, ns = parse_xml(data)
        if root is None:
            return data
        shown = []
        for db in root.iter(q(ns, "DBInstance")):
            ident = db.findtext(q(ns, "DBInstanceIdentifier"))
            state = self.db_state(ident, now)
            st = db.find(q(ns, "DBInstanceStatus"))
            if state is None or st is None:
                continue
            st.text = state
            if state == "creating":
                e = db.find(q(ns, "Endpoint"))
                if e is not None:
                    db.remove(e)
            shown.append((ident, state))
        if not shown:
            return data
        for ident, state in shown:
            self.fire("rds-states", c.op, ident, state)
        return dump_xml(root, ns)


class Handler(awsproxy.Handler):
    server_version = name = "aws-sim"
    # Set on the class by main().
    sim = None

    def control(self, path):
        split = urllib.parse.urlsplit(path)
        args = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        route = split.path[len(CONTROL):]
        sim = self.sim
        if self.command == "GET" and route == "stats":
            return self.json_reply(200, sim.snapshot())
        if self.command != "POST":
            return self.json_reply(405, {"error": f"{self.command} {split.path}: use POST"})
        if route == "reset":
            sim.reset()
            return self.json_reply(200, sim.snapshot())
        if route == "foreign-bucket" and args.get("name"):
            with sim.lock:
                sim.foreign[args["name"]] = {"region": args.get("region") or None,
                                             "owner": "other" if args.get("owner") == "other" else "self"}
            return self.json_reply(200, {"foreign": sim.foreign})
        if route == "fail-domain" and args.get("name"):
            with sim.lock:
                sim.failing[args["name"]] = args.get("reason") or (
                    f"Creating the domain {args['name']} failed (aws-sim es-async-failure).")
            return self.json_reply(200, {"failing": sim.failing})
        if route == "config":
            try:
                rules = parse_rules(args["rules"]) if "rules" in args else None
                delay = int(args["delay_ms"]) if "delay_ms" in args else None
            except ValueError as e:
                return self.json_reply(400, {"error": str(e)})
            with sim.lock:
                if rules is not None:
                    sim.rules = set(rules)
                if delay is not None:
                    sim.delay_ms = delay
            return self.json_reply(200, sim.snapshot())
        return self.json_reply(404, {"error": f"unknown control request {self.command} {path}"})

    def handle_any(self):
        body = self.read_body()
        if self.path.startswith(CONTROL) and "Authorization" not in self.headers:
            self.control(self.path)
            return
        if self.path.startswith("/moto-api/"):
            self.forward(None, body)
            return
        call = Call(self.command, self.path, self.headers, body)
        if call.protocol is None:
            self.forward(None, body)
            return
        if call.service == "iam" and call.op == "AttachRolePolicy" and self.sim.on("iam-policy-quota"):
            call.attached_policies = self.attached_policies(call)
        try:
            answer = self.sim.before(call)
        except Exception as e:  # a rule's bug must not take the proxy down: forward, and say so
            sys.stderr.write(f"aws-sim: internal error in a rule for {call.op} {self.path}: {e!r}\n")
            answer = None
        if answer is not None:
            self.log_message("%s %s %s -> %s (answered)", call.service, call.op, self.command, answer.status)
            self.reply(answer.status, answer.headers, answer.body)
            return
        self.forward(call, body)

    def attached_policies(self, call):
        """The ARNs of the policies attached to the call's role, asked of the
        emulator with the caller's own headers (it reads the account from the
        access key and does not check signatures), or None if that failed."""
        role = call.form.get("RoleName")
        body = urllib.parse.urlencode({"Action": "ListAttachedRolePolicies", "Version": "2010-05-08",
                                       "RoleName": role or "", "MaxItems": "1000"}).encode()
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
            self.put_headers(conn)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()
        if resp.status != 200:
            return None
        return [m.decode() for m in re.findall(rb"<PolicyArn>([^<]+)</PolicyArn>", data)]

    def forward(self, call, body):
        answer = self.fetch(body, NOT_RELAYED)
        if answer is None:
            return
        status, headers, data, head_length = answer
        with self.sim.lock:
            self.sim.forwarded += 1
        if call is not None:
            try:
                status, headers, new = self.sim.after(call, status, headers, data)
            except Exception as e:
                sys.stderr.write(f"aws-sim: internal error rewriting {call.op} {self.path}: {e!r}\n")
                new = data
            if new is not data and self.command != "HEAD":
                data, head_length = new, None
        self.log_message("%s %s %s -> %s", call.service if call else "-", call.op if call else self.path,
                         self.command, status)
        self.reply(status, headers, data, head_length)

    def upstream_failed(self):
        with self.sim.lock:
            self.sim.upstream_errors += 1


def parse_rules(text):
    names = [r.strip() for r in (text or "").split(",") if r.strip()]
    if names == ["all"]:
        return list(RULES)
    if names in ([], ["none"]):
        return []
    bad = [r for r in names if r not in RULES]
    if bad:
        raise ValueError(f"unknown rule(s) {', '.join(bad)}: expected `all`, `none` or names from "
                         f"{', '.join(RULES)}")
    return names


def parse_pairs(text, what):
    out = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        k, sep, v = item.partition("=")
        if not sep or not k or not v:
            raise ValueError(f"{what} {item!r}: expected NAME=VALUE")
        out[k] = v
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_upstream_args(p, "AWS_SIM")
    p.add_argument("--rules", default=env("AWS_SIM_RULES", "all"),
                   help="`all`, `none`, or a comma-separated list of rule names (default all)")
    p.add_argument("--delay-ms", type=int, default=int(env("AWS_SIM_DELAY_MS", "1500")),
                   help="how long the time-window rules last, in ms (default 1500)")
    p.add_argument("--rule-delay-ms", default=env("AWS_SIM_RULE_DELAY_MS", ""),
                   help="per-rule overrides of --delay-ms: RULE=MS,...")
    p.add_argument("--es-fail-pattern", default=env("AWS_SIM_ES_FAIL_PATTERN", "esfail"),
                   help="regex of domain names es-async-failure fails (default esfail; empty: none)")
    p.add_argument("--foreign-bucket", action="append", default=[],
                   help="BUCKET=REGION: a bucket in another region (repeatable; env AWS_SIM_FOREIGN_BUCKETS)")
    add_run_args(p, "AWS_SIM", "log each request on stderr")
    a = p.parse_args(argv)
    check_upstream(p, a, "AWS_SIM")
    try:
        a.rules = parse_rules(a.rules)
        a.rule_delays = {k: int(v) for k, v in parse_pairs(a.rule_delay_ms, "--rule-delay-ms").items()}
        bad = [k for k in a.rule_delays if k not in RULES]
        if bad:
            raise ValueError(f"--rule-delay-ms: unknown rule(s) {', '.join(bad)}")
        a.foreign = parse_pairs(",".join([env("AWS_SIM_FOREIGN_BUCKETS", "")] + a.foreign_bucket),
                                "--foreign-bucket")
        if a.es_fail_pattern:
            re.compile(a.es_fail_pattern)
    except (ValueError, re.error) as e:
        p.error(str(e))
    if a.delay_ms < 0 or any(v < 0 for v in a.rule_delays.values()):
        p.error("delays must not be negative")
    if not 0 <= a.port <= 65535:
        p.error("--port must be between 0 and 65535")
    return a


def main(argv):
    a = parse_args(argv)
    Handler.upstream = a.upstream_addr
    Handler.sim = Sim(a.rules, a.delay_ms, a.rule_delays, a.es_fail_pattern, a.foreign)
    Handler.verbose = a.verbose
    return awsproxy.serve(Handler, a, f"(rules {','.join(a.rules) or 'none'}; delay {a.delay_ms} ms)",
                          Handler.sim.snapshot)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
