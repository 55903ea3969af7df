"""Shared helpers for the Coffer real-client (oss2 / alibabacloud-oss-v2) test suite.

Nothing here patches or wraps the SDKs: tests call the official SDK APIs directly.
These helpers only build clients, compute expected values and unwrap SDK exceptions.
"""
import base64
import hashlib
import os
import re
import secrets
import warnings
import xml.etree.ElementTree as ET
from urllib.parse import quote

import crcmod
import oss2
import alibabacloud_oss_v2 as oss
from alibabacloud_oss_v2 import exceptions as v2exc

REGION = "cn-hangzhou"
LOCATION = "oss-" + REGION
ROOT_ACCESS_KEY_ID = "cofferadmin"

# x-oss-request-id: 24 upper-case hex characters (reference §4.1).
REQUEST_ID_RE = re.compile(r"^[0-9A-F]{24}$")
# ETag of a single PUT / UploadPart: the upper-case MD5 hex (reference §5.6).
ETAG_MD5_RE = re.compile(r'^"[0-9A-F]{32}"$')
# Multipart ETag: "<32 hex>-<N>" (reference §5.6).
MULTIPART_ETAG_RE = re.compile(r'^"?[0-9A-F]{32}-(\d+)"?$')
EC_RE = re.compile(r"^\d{4}-\d{8}$")

SIG_VERSIONS = ["v1", "v4"]

KB = 1024
MB = 1024 * 1024

# ---------------------------------------------------------------- checksums

# CRC-64/XZ ("ECMA" in OSS parlance): reflected, poly 0x42F0E1EBA9EA3693,
# init/xorout all ones (reference §5.7).
_crc64_fn = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0,
                            xorOut=0xFFFFFFFFFFFFFFFF, rev=True)
assert _crc64_fn(b"123456789") == 11051210869376104954  # catalogue check value
assert _crc64_fn(b"") == 0
assert _crc64_fn(b"hello world") == 5981764153023615706


def crc64(data: bytes) -> int:
    return _crc64_fn(data)


def md5_hex_upper(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def quoted_etag(data: bytes) -> str:
    return '"' + md5_hex_upper(data) + '"'


def rand_bytes(n: int) -> bytes:
    return os.urandom(n)


def unique_name(prefix: str = "sdk") -> str:
    """A valid, unique bucket name (lowercase, [a-z0-9-], 3..63 chars)."""
    name = "%s-%d-%s" % (prefix, os.getpid() % 100000, secrets.token_hex(5))
    assert 3 <= len(name) <= 63
    return name


def strip_quotes(etag: str) -> str:
    return etag.strip('"') if etag is not None else etag


def hget(headers, name):
    """Case-insensitive header lookup on any mapping."""
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


# ---------------------------------------------------------------- clients

def oss2_auth(sig: str, ak: str, sk: str):
    if sig == "v1":
        return oss2.Auth(ak, sk)
    if sig == "v4":
        return oss2.AuthV4(ak, sk)
    raise ValueError(sig)


def oss2_bucket(server, bucket_name: str, sig: str = "v1", ak: str = None, sk: str = None,
                auth=None) -> oss2.Bucket:
    """oss2.Bucket on an IP endpoint (oss2 uses path style automatically for IP/localhost
    endpoints: api._determine_endpoint_type). CRC checking is on (enable_crc=True)."""
    if auth is None:
        auth = oss2_auth(sig, ak or server.access_key_id, sk or server.access_key_secret)
    return oss2.Bucket(auth, server.endpoint, bucket_name, region=REGION,
                       enable_crc=True, connect_timeout=30)


def oss2_service(server, sig: str = "v1", ak: str = None, sk: str = None) -> oss2.Service:
    auth = oss2_auth(sig, ak or server.access_key_id, sk or server.access_key_secret)
    return oss2.Service(auth, server.endpoint, region=REGION, connect_timeout=30)


def v2_client(server, sig: str = "v4", ak: str = None, sk: str = None,
              anonymous: bool = False, retry_max_attempts: int = 1) -> oss.Client:
    """alibabacloud_oss_v2 client: path style, chosen signature version, CRC checks
    enabled (the SDK default; we never set disable_*_crc64_check), and by default no retries
    so that a server error surfaces on the first attempt. (Client.get_object_to_file makes
    retry_max_attempts - 1 attempts, so it needs retry_max_attempts >= 2.)"""
    cfg = oss.config.load_default()
    if anonymous:
        cfg.credentials_provider = oss.credentials.AnonymousCredentialsProvider()
    else:
        cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
            ak or server.access_key_id, sk or server.access_key_secret)
    cfg.region = REGION
    cfg.endpoint = server.endpoint
    cfg.use_path_style = True
    cfg.signature_version = sig
    cfg.retry_max_attempts = retry_max_attempts
    cfg.disable_upload_crc64_check = False
    cfg.disable_download_crc64_check = False
    return oss.Client(cfg)


# ---------------------------------------------------------------- errors

def v2_error(excinfo_or_exc) -> v2exc.ServiceError:
    """Unwrap the v2 SDK's OperationError into the ServiceError it carries."""
    exc = getattr(excinfo_or_exc, "value", excinfo_or_exc)
    seen = 0
    while isinstance(exc, v2exc.OperationError) and seen < 5:
        exc = exc.unwrap()
        seen += 1
    assert isinstance(exc, v2exc.ServiceError), "expected a ServiceError, got %r" % (exc,)
    return exc


def assert_oss2_error(exc, status: int, code: str):
    assert exc.status == status, "status %r != %r: %s" % (exc.status, status, exc)
    assert exc.code == code, "code %r != %r: %s" % (exc.code, code, exc)
    assert REQUEST_ID_RE.match(exc.request_id or ""), "bad request id %r" % exc.request_id


def assert_v2_error(excinfo, status: int, code: str) -> v2exc.ServiceError:
    err = v2_error(excinfo)
    assert err.status_code == status, "status %r != %r: %s" % (err.status_code, status, err)
    assert err.code == code, "code %r != %r: %s" % (err.code, code, err)
    assert REQUEST_ID_RE.match(err.request_id or ""), "bad request id %r" % err.request_id
    return err


def parse_error_xml(body: bytes) -> dict:
    root = ET.fromstring(body)
    assert root.tag == "Error", body
    return {child.tag: (child.text or "") for child in root}


def decode_x_oss_err(value: str) -> dict:
    return parse_error_xml(base64.b64decode(value))


# ---------------------------------------------------------------- raw HTTP

def raw_connection(server, timeout=10):
    """An http.client connection to the OSS listener: HTTPS verified against the test CA
    when the server runs with TLS."""
    import http.client
    import ssl
    if server.tls:
        context = ssl.create_default_context(cafile=server.ca_path)
        return http.client.HTTPSConnection(server.host, server.port, timeout=timeout,
                                           context=context)
    return http.client.HTTPConnection(server.host, server.port, timeout=timeout)


def path_url(server, bucket: str, key: str = None, query: str = "") -> str:
    """Path-style URL for raw (unsigned / anonymous) requests."""
    url = "%s/%s/" % (server.endpoint, bucket)
    if key is not None:
        url += quote(key, safe="")
    if query:
        url += "?" + query
    return url


# ---------------------------------------------------------------- cleanup

def cleanup_buckets(server, names):
    """Force-deletes each bucket a test or fixture made; a failure is a warning, so that
    cleanup never masks the test's own result."""
    for name in names:
        try:
            force_delete_bucket(server, name)
        except Exception as e:
            warnings.warn("could not clean up bucket %s: %r" % (name, e))


def force_delete_bucket(server, name: str):
    """Abort all uploads, delete all objects and delete the bucket (root creds, V1)."""
    b = oss2_bucket(server, name, "v1")
    try:
        # incomplete multipart uploads
        for _ in range(1000):
            r = b.list_multipart_uploads(max_uploads=1000)
            for u in r.upload_list:
                b.abort_multipart_upload(u.key, u.upload_id)
            if not r.upload_list:
                break
        # objects
        for _ in range(1000):
            r = b.list_objects(max_keys=1000)
            keys = [o.key for o in r.object_list]
            if not keys:
                break
            b.batch_delete_objects(keys)
        b.delete_bucket()
    except oss2.exceptions.NoSuchBucket:
        pass


# ---------------------------------------------------------------- server-side encryption
# Used by the test_sse_*.py files (reference §1, §2, §7).

SSE_HDR = "x-oss-server-side-encryption"
SSE_DATA_HDR = "x-oss-server-side-data-encryption"
SSE_KEY_HDR = "x-oss-server-side-encryption-key-id"
SSE_HEADER_NAMES = (SSE_HDR, SSE_DATA_HDR, SSE_KEY_HDR)

# The five effective object encryption methods.
SSE_METHODS = ["none", "AES256", "SM4", "KMS", "KMS+SM4"]

# Coffer seals plaintext in packages of 64 KiB (coffer-crypto PACKAGE_PLAINTEXT).
SSE_PACKAGE = 64 * KB


def sse_split(method):
    """'KMS+SM4' -> ('KMS', 'SM4'); 'AES256' -> ('AES256', None); 'none' -> (None, None)."""
    if method == "none":
        return None, None
    alg, _, data = method.partition("+")
    return alg, (data or None)


def sse_headers(method, key_id=None) -> dict:
    """Request headers selecting `method` (optionally with an explicit CMK id)."""
    alg, data = sse_split(method)
    out = {}
    if alg:
        out[SSE_HDR] = alg
    if data:
        out[SSE_DATA_HDR] = data
    if key_id is not None:
        out[SSE_KEY_HDR] = key_id
    return out


def sse_v2_kwargs(method, key_id=None) -> dict:
    """The same as keyword arguments of the v2 SDK's request models."""
    alg, data = sse_split(method)
    out = {}
    if alg:
        out["server_side_encryption"] = alg
    if data:
        out["server_side_data_encryption"] = data
    if key_id is not None:
        out["server_side_encryption_key_id"] = key_id
    return out


def sse_rule(method, key_id=None) -> oss2.models.ServerSideEncryptionRule:
    alg, data = sse_split(method)
    return oss2.models.ServerSideEncryptionRule(alg, key_id, data)


def sse_of(headers):
    """(algorithm, data algorithm, key id) as reported by the response headers."""
    return tuple(hget(headers, n) for n in SSE_HEADER_NAMES)


def assert_sse(headers, method, key_id=None, what=""):
    """Assert that response headers report exactly `method` (§2.1): the algorithm header,
    the data-encryption header only for KMS+SM4, and a non-empty key id for every KMS
    object (equal to `key_id` when given). Returns the reported key id."""
    alg, data = sse_split(method)
    got = sse_of(headers)
    ctx = "%s: expected %s, got SSE headers %r" % (what or "response", method, got)
    assert got[0] == alg, ctx
    assert got[1] == data, ctx
    if alg == "KMS":
        assert got[2], ctx + " (KMS objects always report the key id)"
        if key_id is not None:
            assert got[2] == key_id, ctx
    else:
        assert got[2] is None, ctx
    return got[2]


def assert_sse_v2(result, method, key_id=None, what=""):
    """Like assert_sse, on the fields the v2 SDK parses into Get/Head/Append/Copy results."""
    alg, data = sse_split(method)
    got = (result.server_side_encryption, result.server_side_data_encryption,
           result.server_side_encryption_key_id)
    ctx = "%s: expected %s, got %r" % (what or "v2 result", method, got)
    assert got[0] == alg, ctx
    assert got[1] == data, ctx
    if alg == "KMS":
        assert got[2], ctx
        if key_id is not None:
            assert got[2] == key_id, ctx
    else:
        assert got[2] is None, ctx
    return got[2]


# ---------------------------------------------------------------- access control
# Used by the test_access_*.py files (docs/access-control.md).

import json as _json  # noqa: E402
import subprocess as _subprocess  # noqa: E402
import time as _time  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

KMS_FORBIDDEN = "This request is forbidden by kms"


def coffer_bin() -> _Path:
    """The binary under test: $COFFER_BIN (relative to the repository root) or
    target/debug/coffer (same resolution as conftest._coffer_bin)."""
    root = _Path(__file__).resolve().parents[2]
    p = _Path(os.environ.get("COFFER_BIN") or str(root / "target" / "debug" / "coffer"))
    return p if p.is_absolute() else root / p


def has_subcommand(name: str) -> bool:
    try:
        r = _subprocess.run([str(coffer_bin()), name, "--help"], capture_output=True,
                            timeout=30, stdin=_subprocess.DEVNULL)
    except (OSError, _subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


class CofferCli:
    """Runs `coffer admin ...` / `coffer kms ...` against the test server's admin listener,
    with the root credentials in the environment (global flags go after the subcommand)."""

    def __init__(self, server):
        self.server = server
        self.binary = str(coffer_bin())
        self.env = dict(os.environ, OSS_ACCESS_KEY_ID=server.access_key_id,
                        OSS_ACCESS_KEY_SECRET=server.access_key_secret, COFFER_REGION=REGION)

    def run(self, *args, check=True, stdin=None):
        argv = [self.binary] + [str(a) for a in args] + [
            "--admin-endpoint", self.server.admin_endpoint]
        r = _subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=30,
                            input=stdin, stdin=None if stdin is not None else _subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError("%s -> exit %s\nstdout: %s\nstderr: %s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def json(self, *args):
        r = self.run(*(list(args) + ["--json"]))
        try:
            return _json.loads(r.stdout) if r.stdout.strip() else {}
        except ValueError:
            raise AssertionError("`coffer %s --json` printed no JSON: %r" % (" ".join(args),
                                                                           r.stdout))

    # -- admin
    def create_user(self, name):
        return self.json("admin", "user", "create", name)["User"]

    def delete_user(self, name, check=True):
        return self.run("admin", "user", "delete", name, check=check)

    def create_key(self, user):
        k = self.json("admin", "key", "create", user)["AccessKey"]
        return k["AccessKeyId"], k["AccessKeySecret"]

    def create_policy(self, name, document, check=True):
        if not isinstance(document, str):
            document = _json.dumps(document)
        return self.run("admin", "policy", "create", name, "--document", document, check=check)

    def attach(self, policy, user):
        return self.run("admin", "policy", "attach", policy, user)

    def detach(self, policy, user, check=True):
        return self.run("admin", "policy", "detach", policy, user, check=check)

    def delete_policy(self, name, check=True):
        return self.run("admin", "policy", "delete", name, check=check)

    # -- kms
    def create_cmk(self):
        out = self.json("kms", "create")
        key_id = out.get("KeyId") or (out.get("KeyMetadata") or {}).get("KeyId")
        assert key_id, out
        return key_id


def statement(effect, actions, resources, condition=None, principal=None, sid=None):
    s = {"Effect": effect,
         "Action": [actions] if isinstance(actions, str) else list(actions),
         "Resource": [resources] if isinstance(resources, str) else list(resources)}
    if principal is not None:
        s["Principal"] = principal
    if condition is not None:
        s["Condition"] = condition
    if sid is not None:
        s["Sid"] = sid
    return s


def policy_doc(*statements) -> str:
    return _json.dumps({"Version": "1", "Statement": list(statements)})


def allow(actions, resources="*", **kw):
    return statement("Allow", actions, resources, **kw)


def deny(actions, resources="*", **kw):
    return statement("Deny", actions, resources, **kw)


def bucket_arn(bucket, key_pattern=None):
    return "acs:oss:*:*:%s" % bucket if key_pattern is None else \
        "acs:oss:*:*:%s/%s" % (bucket, key_pattern)


def kms_arn(key_id):
    return "acs:kms:*:*:key/%s" % key_id


def kms_audit_path(server) -> str:
    """The KMS audit log of the test server (<data dir>/kms/audit.log)."""
    return os.path.join(server.data_dir, "kms", "audit.log")


def kms_audit_events(server):
    try:
        with open(kms_audit_path(server), "r", encoding="utf-8") as f:
            return [_json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def wait_for_audit(server, pred, timeout=2.0):
    """The audit events matching `pred`, waiting a little for the log to be written."""
    deadline = _time.monotonic() + timeout
    while True:
        hits = [e for e in kms_audit_events(server) if pred(e)]
        if hits or _time.monotonic() > deadline:
            return hits
        _time.sleep(0.05)


def expect_error(call, status=403, code="AccessDenied", message=None):
    """Run `call` (an oss2 or alibabacloud-oss-v2 call), expect a service error with this
    status and code (and, if given, a message containing `message`); return the error."""
    try:
        call()
    except oss2.exceptions.ServerError as e:
        assert_oss2_error(e, status, code)
        if message is not None:
            assert message in (e.message or ""), "message %r lacks %r" % (e.message, message)
        return e
    except v2exc.OperationError as e:
        err = v2_error(e)
        assert err.status_code == status, "status %r != %r: %s" % (err.status_code, status, err)
        assert err.code == code, "code %r != %r: %s" % (err.code, code, err)
        assert REQUEST_ID_RE.match(err.request_id or ""), "bad request id %r" % err.request_id
        if message is not None:
            assert message in (err.message or ""), "message %r lacks %r" % (err.message, message)
        return err
    raise AssertionError("expected %s %s, but the call succeeded" % (status, code))
