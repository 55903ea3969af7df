"""Fixtures for the Coffer real-client test suite.

A single Coffer server is started per pytest session:

    $COFFER_BIN serve --listen 127.0.0.1:PORT --admin-listen 127.0.0.1:PORT2 \
        --data-dir DIR --region cn-hangzhou

with root credentials OSS_ACCESS_KEY_ID=cofferadmin / OSS_ACCESS_KEY_SECRET=<random> in its
environment. Its output goes to <tmp>/server.log; the tail is attached to every failing test.

With COFFER_KMS_BACKEND=vault, an OpenBao dev server is started first (tests/sdk/openbao.py) and
Coffer is started with `--kms-backend vault --vault-addr ...`: SSE-OSS and SSE-KMS keys then
live in OpenBao's Transit engine. With COFFER_KMS_BACKEND=kmip, a PyKMIP server is started
instead (tests/sdk/pykmip.py, certificates made for the session) and Coffer gets
`--kms-backend kmip --kmip-addr ... --kmip-ca ... --kmip-client-cert ... --kmip-client-key ...`.

With COFFER_TLS=1 both listeners serve HTTPS instead: the fixture makes a CA and a server
certificate with `coffer cert self-signed --out <tmp>/certs`, starts the server with
--tls-cert/--tls-key and --admin-tls-cert/--admin-tls-key, and sets REQUESTS_CA_BUNDLE (and
COFFER_ADMIN_CA_CERT, for `coffer admin`/`coffer kms`) to the CA. Both SDKs (and the tests'
raw `requests` calls) send through requests sessions that verify against that bundle; no
test turns verification off.
"""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import oss2  # noqa: E402
import alibabacloud_oss_v2 as oss  # noqa: E402

import sdkhelpers as h  # noqa: E402
from openbao import OpenBao  # noqa: E402
from pykmip import PyKmip  # noqa: E402

KMS_BACKEND = os.environ.get("COFFER_KMS_BACKEND", "builtin")

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
LOG_TAIL_LINES = 60

_server_for_hooks = None


def tls_mode():
    """Whether this session runs against an HTTPS listener (COFFER_TLS=1)."""
    return os.environ.get("COFFER_TLS", "") not in ("", "0")


class CofferServer:
    def __init__(self, binary, tmpdir, bao=None, tls=False):
        self.binary = str(binary)
        # The external key manager holding the keys (OpenBao in vault mode, PyKMIP in kmip
        # mode: both give server_args() and server_env()), else None.
        self.bao = bao
        self.tmpdir = tmpdir
        self.data_dir = os.path.join(tmpdir, "data")
        self.log_path = os.path.join(tmpdir, "server.log")
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.admin_port = _free_port(exclude={self.port})
        self.tls = tls
        self.cert_dir = os.path.join(tmpdir, "certs")
        self.ca_path = os.path.join(self.cert_dir, "ca.pem")
        scheme = "https" if tls else "http"
        self.endpoint = "%s://%s:%d" % (scheme, self.host, self.port)
        self.admin_endpoint = "%s://%s:%d" % (scheme, self.host, self.admin_port)
        self.access_key_id = h.ROOT_ACCESS_KEY_ID
        self.access_key_secret = secrets.token_urlsafe(30)
        self.proc = None
        self._log = None

    @property
    def cmd(self):
        return [self.binary, "serve",
                "--listen", "%s:%d" % (self.host, self.port),
                "--admin-listen", "%s:%d" % (self.host, self.admin_port),
                "--data-dir", self.data_dir,
                "--region", h.REGION] + (self.bao.server_args() if self.bao else []) + self.tls_args

    @property
    def tls_args(self):
        if not self.tls:
            return []
        cert = os.path.join(self.cert_dir, "server.pem")
        key = os.path.join(self.cert_dir, "server-key.pem")
        return ["--tls-cert", cert, "--tls-key", key,
                "--admin-tls-cert", cert, "--admin-tls-key", key]

    # The session server's certificate directory, once it has one: every other server of
    # the session serves the same certificate, so the one CA the clients trust
    # (REQUESTS_CA_BUNDLE, COFFER_ADMIN_CA_CERT) verifies them all.
    shared_cert_dir = None

    def make_certs(self):
        shared = CofferServer.shared_cert_dir
        if shared and shared != self.cert_dir:
            self.cert_dir = shared
            self.ca_path = os.path.join(shared, "ca.pem")
            return
        subprocess.run([self.binary, "cert", "self-signed", "--out", self.cert_dir],
                       check=True, capture_output=True, timeout=30)

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        if self.tls:
            self.make_certs()
        env = dict(os.environ)
        env["OSS_ACCESS_KEY_ID"] = self.access_key_id
        env["OSS_ACCESS_KEY_SECRET"] = self.access_key_secret
        if self.bao:
            env.update(self.bao.server_env())
        self._log = open(self.log_path, "ab")
        self._log.write(("$ %s\n" % " ".join(self.cmd)).encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=self.tmpdir)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError("coffer exited with status %s before accepting connections\n"
                                   "--- server output ---\n%s" % (rc, self.log_tail(200)))
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("coffer did not accept connections on %s within %.0fs\n"
                                   "--- server output ---\n%s"
                                   % (self.endpoint, START_TIMEOUT, self.log_tail(200)))
            time.sleep(0.1)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n=LOG_TAIL_LINES):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError as e:
            return "<no server log: %s>" % e
        return "\n".join(lines[-n:])


def _free_port(exclude=()):
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in exclude:
            return port
    raise RuntimeError("no free port")


def _coffer_bin():
    value = os.environ.get("COFFER_BIN") or str(REPO_ROOT / "target" / "debug" / "coffer")
    p = Path(value)
    if not p.is_absolute():
        p = REPO_ROOT / p
    return p


# ---------------------------------------------------------------- pytest hooks

def pytest_report_header(config):
    return ["coffer binary: %s, key manager: %s" % (_coffer_bin(), KMS_BACKEND),
            "oss2 %s, alibabacloud-oss-v2 %s" % (oss2.__version__, oss.__version__),
            "transport: %s" % ("HTTPS (COFFER_TLS=1)" if tls_mode() else "plain HTTP")]


_REQUEST_ID_IN_TEXT = re.compile(r"\b[0-9A-F]{24}\b")


def _wait_for_log_to_settle(path, timeout=1.0):
    """The server's log writer may lag a little behind its responses."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        try:
            size = os.path.getsize(path)
        except OSError:
            return
        if size == last:
            return
        last = size
        time.sleep(0.1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    srv = _server_for_hooks
    if srv is None or not rep.failed:
        return
    _wait_for_log_to_settle(srv.log_path)
    state = "running" if srv.alive() else "EXITED with status %s" % srv.proc.poll()
    # Server log lines for the request ids that appear in the failure text.
    ids = set(_REQUEST_ID_IN_TEXT.findall(str(rep.longrepr)))
    if ids:
        try:
            with open(srv.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            hits = [ln for ln in lines if any(i in ln for i in ids)]
        except OSError:
            hits = []
        if hits:
            rep.sections.append(("coffer server log lines for request ids in this failure",
                                 "\n".join(hits[-40:])))
    rep.sections.append(("coffer server (%s), log %s, last %d lines" %
                         (state, srv.log_path, LOG_TAIL_LINES), srv.log_tail()))


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def server(request):
    global _server_for_hooks
    binary = _coffer_bin()
    if not binary.is_file() or not os.access(str(binary), os.X_OK):
        pytest.exit("coffer binary not found or not executable: %s "
                    "(build it, or set COFFER_BIN)" % binary, returncode=1)
    tmpdir = tempfile.mkdtemp(prefix="coffer-sdk-")
    bao = None
    if KMS_BACKEND == "vault":
        try:
            bao = OpenBao(tmpdir)
            bao.start()
        except RuntimeError as e:
            pytest.exit("could not start openbao: %s" % e, returncode=1)
        request.addfinalizer(bao.stop)
    elif KMS_BACKEND == "kmip":
        try:
            bao = PyKmip(tmpdir)
            bao.start()
        except (RuntimeError, subprocess.SubprocessError) as e:
            pytest.exit("could not start pykmip: %s" % e, returncode=1)
        request.addfinalizer(bao.stop)
    elif KMS_BACKEND != "builtin":
        pytest.exit("unknown COFFER_KMS_BACKEND %r" % KMS_BACKEND, returncode=1)
    srv = CofferServer(binary, tmpdir, bao, tls=tls_mode())
    try:
        srv.start()
    except (RuntimeError, subprocess.SubprocessError) as e:
        pytest.exit("could not start coffer (logs kept in %s):\n%s" % (tmpdir, e), returncode=1)
    if srv.tls:
        # requests (under oss2, alibabacloud-oss-v2 and the raw calls) verifies with this.
        os.environ["REQUESTS_CA_BUNDLE"] = srv.ca_path
        os.environ["COFFER_ADMIN_CA_CERT"] = srv.ca_path
        CofferServer.shared_cert_dir = srv.cert_dir
    _server_for_hooks = srv
    yield srv
    _server_for_hooks = None
    crashed = not srv.alive()
    srv.stop()
    if crashed:
        sys.stderr.write("\ncoffer server had exited before the end of the session "
                         "(status %s); log kept at %s\n" % (srv.proc.returncode, srv.log_path))
    if crashed or request.session.testsfailed:
        # keep the log for inspection, drop the (possibly large) object data
        shutil.rmtree(srv.data_dir, ignore_errors=True)
        if not crashed:
            sys.stderr.write("\ncoffer server log kept at %s\n" % srv.log_path)
    else:
        shutil.rmtree(tmpdir, ignore_errors=True)


@pytest.fixture(params=h.SIG_VERSIONS)
def sig(request):
    """Signature version under test: 'v1' (HMAC-SHA1) or 'v4' (OSS4-HMAC-SHA256)."""
    return request.param


@pytest.fixture
def make_bucket(server):
    """Factory: create a fresh bucket (root credentials, V1) and force-delete it afterwards."""
    created = []

    def _make(acl=None, prefix="sdk"):
        name = h.unique_name(prefix)
        b = h.oss2_bucket(server, name, "v1")
        b.create_bucket(acl) if acl else b.create_bucket()
        created.append(name)
        return name

    yield _make
    h.cleanup_buckets(server, created)


@pytest.fixture
def bucket_name(make_bucket):
    """A fresh private bucket for this test."""
    return make_bucket()


@pytest.fixture
def o2(server, bucket_name, sig):
    """oss2.Bucket for `bucket_name`, signing with `sig` (oss2.Auth or oss2.AuthV4)."""
    return h.oss2_bucket(server, bucket_name, sig)


@pytest.fixture
def v2(server, sig):
    """alibabacloud_oss_v2.Client signing with `sig`."""
    return h.v2_client(server, sig)


@pytest.fixture
def o2_admin(server, bucket_name):
    """oss2.Bucket with root credentials and V1 signing, for test set-up/verification."""
    return h.oss2_bucket(server, bucket_name, "v1")


@pytest.fixture
def fresh_name(server):
    """Factory for bucket names that the test creates itself; any that exist at the end are
    force-deleted."""
    names = []

    def _new(prefix="sdk"):
        name = h.unique_name(prefix)
        names.append(name)
        return name

    yield _new
    h.cleanup_buckets(server, names)


# ---------------------------------------------------------------- access control
# Used by the test_access_*.py files: RAM users created with `coffer admin ...`.

class RamUser:
    """A RAM user with one AccessKey pair, created through the admin CLI."""

    def __init__(self, server, name, user_id, ak, sk):
        self.server = server
        self.name = name
        self.id = user_id
        self.ak = ak
        self.sk = sk

    def bucket(self, bucket_name, sig="v1") -> oss2.Bucket:
        return h.oss2_bucket(self.server, bucket_name, sig, ak=self.ak, sk=self.sk)

    def v2(self, sig="v4") -> oss.Client:
        return h.v2_client(self.server, sig, ak=self.ak, sk=self.sk)

    def __repr__(self):
        return "RamUser(%s, %s)" % (self.name, self.ak)


class RamUsers:
    """Factory for RAM users (and their policies); everything it made is deleted at the end
    of the test module."""

    def __init__(self, server, cli):
        self.server = server
        self.cli = cli
        self.users = []
        self.policies = []

    def policy(self, document) -> str:
        name = "sdk-" + secrets.token_hex(6)
        self.cli.create_policy(name, document)
        self.policies.append(name)
        return name

    def attach(self, user, document) -> str:
        name = self.policy(document)
        self.cli.attach(name, user.name)
        return name

    def user(self, *documents) -> RamUser:
        """A fresh user with one AccessKey and the given policy documents attached."""
        name = "sdk-" + secrets.token_hex(6)
        info = self.cli.create_user(name)
        self.users.append(name)
        ak, sk = self.cli.create_key(name)
        user = RamUser(self.server, name, info.get("UserId"), ak, sk)
        for doc in documents:
            self.attach(user, doc)
        return user

    def cleanup(self):
        for name in self.users:
            r = self.cli.delete_user(name, check=False)
            if r.returncode != 0 and "EntityNotExist" not in r.stderr:  # a test deleted it
                warnings.warn("could not delete RAM user %s: %s" % (name, r.stderr.strip()))
        for name in self.policies:
            r = self.cli.delete_policy(name, check=False)
            if r.returncode != 0:
                warnings.warn("could not delete policy %s: %s" % (name, r.stderr.strip()))


@pytest.fixture(scope="session")
def cli(server):
    """`coffer admin ...` / `coffer kms ...` against the test server, as root."""
    return h.CofferCli(server)


@pytest.fixture(scope="module")
def ram(server, cli):
    """Module-scoped RamUsers factory; skips when the binary has no `admin` subcommand."""
    if not h.has_subcommand("admin"):
        pytest.skip("%s has no `admin` subcommand" % h.coffer_bin())
    users = RamUsers(server, cli)
    yield users
    users.cleanup()


@pytest.fixture
def cmk(cli):
    """A fresh, enabled CMK (`coffer kms create`); skips without the `kms` subcommand."""
    if not h.has_subcommand("kms"):
        pytest.skip("%s has no `kms` subcommand" % h.coffer_bin())
    return cli.create_cmk()


@pytest.fixture(scope="module")
def module_bucket(server):
    """Factory for buckets that live for the whole test module (root, V1); force-deleted at
    its end."""
    created = []

    def _make(acl=None, prefix="acc"):
        name = h.unique_name(prefix)
        b = h.oss2_bucket(server, name, "v1")
        b.create_bucket(acl) if acl else b.create_bucket()
        created.append(name)
        return name

    yield _make
    h.cleanup_buckets(server, created)
