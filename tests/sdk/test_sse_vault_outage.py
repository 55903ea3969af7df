"""Key-manager outages against a real OpenBao (issue 13 §2): Coffer on the vault backend,
under a small concurrent load of SSE-KMS and plain PUT/GET, while OpenBao is paused
(SIGSTOP), killed and started again on its persistent storage, or loses a key.

What must hold: SSE requests fail closed with the KMS's 503 within a bounded time (never a
hang), plain objects keep working, requests succeed again once OpenBao is back without
restarting Coffer, nothing acknowledged is lost, and a Transit key deleted while its data
keys are cached stops serving within the cache lifetime.

Runs in the suite's vault mode (scripts/test.sh); its own OpenBao, with file storage, so
the session's dev server is never disturbed.
"""
import concurrent.futures
import json
import os
import secrets
import shutil
import tempfile
import threading
import time

import oss2
import pytest

import sdkhelpers as h
from conftest import KMS_BACKEND, CofferServer
from openbao import PersistentOpenBao

pytestmark = pytest.mark.skipif(KMS_BACKEND != "vault",
                                reason="needs COFFER_KMS_BACKEND=vault (scripts/test.sh sets it)")

TIMEOUT_S = 1.0
# The server's bound on a KMS call, retries included.
DEADLINE_S = 2 * TIMEOUT_S
# Loose: the rest is scheduling on a busy machine.
BOUND_S = 3 * TIMEOUT_S
# Long enough that a request starting after one stuck since before the pause also fails
# before SIGCONT (a request pending in OpenBao's backlog is answered once it resumes).
PAUSE_S = 2 * DEADLINE_S + 1
COOLDOWN_MS = 500
KMS_UNAVAILABLE = (503, "KmsServiceUnavailable")


class _Backend:
    """Coffer's flags for the module's OpenBao: a short deadline and cool-down."""

    def __init__(self, bao, cache_seconds=0):
        self.bao = bao
        self.cache_seconds = cache_seconds

    def server_args(self):
        args = self.bao.server_args() + [
            "--vault-timeout-ms", str(int(TIMEOUT_S * 1000)),
            "--kms-breaker-cooldown-ms", str(COOLDOWN_MS)]
        if self.cache_seconds:
            args += ["--kms-data-key-cache-seconds", str(self.cache_seconds)]
        return args

    def server_env(self):
        return self.bao.server_env()


@pytest.fixture(scope="module")
def bao():
    tmp = tempfile.mkdtemp(prefix="coffer-bao-")
    b = PersistentOpenBao(tmp)
    b.start()
    yield b
    b.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def coffer(server, bao):
    """A Coffer of its own on the module's OpenBao (cache off); yields a started bucket."""
    tmp = tempfile.mkdtemp(prefix="coffer-outage-")
    srv = CofferServer(server.binary, tmp, _Backend(bao))
    srv.start()
    try:
        b = h.oss2_bucket(srv, h.unique_name("outage"), "v1")
        b.create_bucket()
        yield b
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class Load:
    """Four workers looping over SSE-KMS and plain PUTs and GETs until stopped, recording
    each request's kind, outcome and duration, and every acknowledged PUT."""

    KINDS = ("kms-put", "kms-get", "plain-put", "plain-get")

    def __init__(self, bucket):
        self.bucket = bucket
        self.results = []  # (started, kind, error (status, code) or None, seconds)
        self.acked = {}  # key -> body, for every PUT the server acknowledged
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.pool = concurrent.futures.ThreadPoolExecutor(len(self.KINDS))
        for name in ("kms", "plain"):
            body = b"seed-" + name.encode()
            self.bucket.put_object("seed-" + name, body, headers=self._headers(name))
            self.acked["seed-" + name] = body

    @staticmethod
    def _headers(name):
        return h.sse_headers("KMS") if name == "kms" else None

    def __enter__(self):
        self.futures = [self.pool.submit(self._worker, kind) for kind in self.KINDS]
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for f in self.futures:
            f.result(timeout=60)  # a worker stuck in a hung request fails the test here
        self.pool.shutdown()

    def _worker(self, kind):
        name, op = kind.split("-")
        n = 0
        while not self.stopping.is_set():
            n += 1
            started = time.monotonic()
            key = "%s-%d-%s" % (name, n, secrets.token_hex(4))
            body = key.encode()
            error = None
            try:
                if op == "put":
                    self.bucket.put_object(key, body, headers=self._headers(name))
                else:
                    assert self.bucket.get_object("seed-" + name).read() == b"seed-" + name.encode()
            except oss2.exceptions.ServerError as e:
                error = (e.status, e.code)
            elapsed = time.monotonic() - started
            with self.lock:
                self.results.append((started, kind, error, elapsed))
                if op == "put" and error is None:
                    self.acked[key] = body
            time.sleep(0.02)

    def between(self, start, end):
        with self.lock:
            return [r for r in self.results if start <= r[0] < end]


def _wait_until_kms_serves(bucket, within):
    """Polls an SSE-KMS GET until it succeeds; returns how long that took."""
    started = time.monotonic()
    while True:
        try:
            bucket.get_object("seed-kms").read()
            return time.monotonic() - started
        except oss2.exceptions.ServerError as e:
            assert (e.status, e.code) == KMS_UNAVAILABLE, (e.status, e.code, e.message)
        assert time.monotonic() - started < within, "SSE-KMS did not recover"
        time.sleep(0.1)


def _check_outage(results):
    """During an outage: every request answered within the bound; plain ones succeeded;
    SSE-KMS ones that failed said it is the KMS, and at least one failed."""
    assert results, "no requests ran during the outage"
    kms_failures = 0
    for _, kind, error, elapsed in results:
        assert elapsed < BOUND_S, "%s took %.2fs" % (kind, elapsed)
        if kind.startswith("plain"):
            assert error is None, (kind, error)
        elif error is not None:
            assert error == KMS_UNAVAILABLE, (kind, error)
            kms_failures += 1
    assert kms_failures > 0, "the outage went unnoticed"


def _check_all_ok(results):
    assert results
    for _, kind, error, elapsed in results:
        assert error is None, (kind, error)


def _check_acknowledged(bucket, acked):
    for key, body in acked.items():
        assert bucket.get_object(key).read() == body, key


def test_a_paused_openbao_under_load(coffer, bao):
    """SIGSTOP: SSE-KMS requests fail with the KMS's 503 within the bound, plain ones keep
    working, no request hangs; SIGCONT: SSE-KMS serves again, no restart."""
    with Load(coffer) as load:
        time.sleep(1)
        bao.pause()
        try:
            outage_start = time.monotonic()
            time.sleep(PAUSE_S)
            outage_end = time.monotonic()
        finally:
            bao.resume()
        _wait_until_kms_serves(coffer, within=BOUND_S + COOLDOWN_MS / 1000 + 5)
        recovered = time.monotonic()
        time.sleep(1.5)
        # Requests started during the pause (all finished by now: none may hang).
        during = load.between(outage_start, outage_end)
        after = load.between(recovered, time.monotonic())
    _check_outage(during)
    _check_all_ok(after)
    _check_acknowledged(coffer, load.acked)


def test_openbao_killed_and_started_again(coffer, bao):
    """SIGKILL, then the same storage and port again, unsealed: everything acknowledged
    before and during the outage reads back; SSE requests failed with 503 meanwhile and
    succeed afterwards."""
    before = {}
    for i in range(5):
        for method in ("KMS", "AES256"):
            key = "before-%s-%d" % (method, i)
            coffer.put_object(key, key.encode(), headers=h.sse_headers(method))
            before[key] = key.encode()
    with Load(coffer) as load:
        time.sleep(1)
        bao.kill()
        outage_start = time.monotonic()
        time.sleep(2 * TIMEOUT_S)
        outage_end = time.monotonic()
        bao.start_again()
        _wait_until_kms_serves(coffer, within=BOUND_S + COOLDOWN_MS / 1000 + 5)
        recovered = time.monotonic()
        time.sleep(1.5)
        during = load.between(outage_start, outage_end)
        after = load.between(recovered, time.monotonic())
    _check_outage(during)
    _check_all_ok(after)
    _check_acknowledged(coffer, before)
    _check_acknowledged(coffer, load.acked)


def test_a_deleted_transit_key_stops_serving_within_the_cache_lifetime(server, bao):
    """With the bucket-key cache on, a Transit key deleted in OpenBao stops decryption of
    every object under it after at most the cache lifetime."""
    ttl = 3
    tmp = tempfile.mkdtemp(prefix="coffer-doomed-")
    srv = CofferServer(server.binary, tmp, _Backend(bao, cache_seconds=ttl))
    srv.start()
    try:
        b = h.oss2_bucket(srv, h.unique_name("doomed"), "v1")
        b.create_bucket()
        bao.create_key("doomed")
        for i in range(3):
            b.put_object("o%d" % i, b"x%d" % i, headers=h.sse_headers("KMS", "doomed"))
        for i in range(3):
            assert b.get_object("o%d" % i).read() == b"x%d" % i
        # Uses the cache served never reached Vault: Coffer's audit log has each of them.
        with open(os.path.join(srv.data_dir, "kms", "audit.log")) as f:
            cached = [json.loads(line) for line in f if '"backend":"vault"' in line]
        assert any(c["operation"] == "GenerateDataKey" for c in cached), cached
        assert all(c["key_id"] == "doomed" and c["detail"]["served_from"] == "cache"
                   for c in cached), cached
        assert len(cached) >= 2 + 2, "2 of 3 PUTs and 2 of 3 GETs at least came from the cache"
        bao.cli("write", "transit/keys/doomed/config", "deletion_allowed=true")
        bao.cli("delete", "transit/keys/doomed")
        deleted = time.monotonic()
        while True:
            try:
                b.get_object("o0").read()
            except oss2.exceptions.ServerError as e:
                refused = time.monotonic() - deleted
                assert (e.status, e.code) == (404, "KeyNotFound"), (e.status, e.code, e.message)
                break
            assert time.monotonic() - deleted < ttl + 1.5, "still served past the cache lifetime"
            time.sleep(0.1)
        assert refused <= ttl + 1.5
        for i in range(3):
            h.expect_error(lambda: b.get_object("o%d" % i).read(), 404, "KeyNotFound")
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
