"""The load and the checks of the KMS outage tests, shared by every external backend
(test_sse_vault_outage.py with OpenBao, test_sse_kmip_outage.py with PyKMIP).

Each backend's test module sets the server's KMS deadline; the bounds below follow from
it: `bounds(timeout_s)` gives (deadline, bound) in seconds.
"""
import concurrent.futures
import secrets
import threading
import time

import oss2

import sdkhelpers as h

KMS_UNAVAILABLE = (503, "KmsServiceUnavailable")


def bounds(timeout_s):
    """The server's bound on a KMS call (retries included: twice the backend's timeout),
    and the loose bound a client sees (the rest is scheduling on a busy machine)."""
    return 2 * timeout_s, 3 * timeout_s


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


def wait_until_kms_serves(bucket, within):
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


def check_outage(results, bound_s):
    """During an outage: every request answered within the bound; plain ones succeeded;
    SSE-KMS ones that failed said it is the KMS, and at least one failed."""
    assert results, "no requests ran during the outage"
    kms_failures = 0
    for _, kind, error, elapsed in results:
        assert elapsed < bound_s, "%s took %.2fs" % (kind, elapsed)
        if kind.startswith("plain"):
            assert error is None, (kind, error)
        elif error is not None:
            assert error == KMS_UNAVAILABLE, (kind, error)
            kms_failures += 1
    assert kms_failures > 0, "the outage went unnoticed"


def check_all_ok(results):
    assert results
    for _, kind, error, elapsed in results:
        assert error is None, (kind, error)


def check_acknowledged(bucket, acked):
    for key, body in acked.items():
        assert bucket.get_object(key).read() == body, key


def paused_under_load(bucket, engine, pause_s, bound_s, recovery_s):
    """SIGSTOP the key manager under load for `pause_s`: SSE-KMS requests fail with the
    KMS's 503 within `bound_s`, plain ones keep working, no request hangs; SIGCONT: SSE-KMS
    serves again within `recovery_s`, with no restart of Coffer."""
    with Load(bucket) as load:
        time.sleep(1)
        engine.pause()
        try:
            outage_start = time.monotonic()
            time.sleep(pause_s)
            outage_end = time.monotonic()
        finally:
            engine.resume()
        wait_until_kms_serves(bucket, within=recovery_s)
        recovered = time.monotonic()
        time.sleep(1.5)
        # Requests started during the pause (all finished by now: none may hang).
        during = load.between(outage_start, outage_end)
        after = load.between(recovered, time.monotonic())
    check_outage(during, bound_s)
    check_all_ok(after)
    check_acknowledged(bucket, load.acked)


def killed_and_started_again(bucket, engine, down_s, bound_s, recovery_s):
    """SIGKILL the key manager under load, `down_s` later start it again on its store:
    everything acknowledged before and during the outage reads back; SSE requests failed
    with 503 meanwhile and succeed afterwards."""
    before = {}
    for i in range(5):
        for method in ("KMS", "AES256"):
            key = "before-%s-%d" % (method, i)
            bucket.put_object(key, key.encode(), headers=h.sse_headers(method))
            before[key] = key.encode()
    with Load(bucket) as load:
        time.sleep(1)
        engine.kill()
        outage_start = time.monotonic()
        time.sleep(down_s)
        outage_end = time.monotonic()
        engine.start_again()
        wait_until_kms_serves(bucket, within=recovery_s)
        recovered = time.monotonic()
        time.sleep(1.5)
        during = load.between(outage_start, outage_end)
        after = load.between(recovered, time.monotonic())
    check_outage(during, bound_s)
    check_all_ok(after)
    check_acknowledged(bucket, before)
    check_acknowledged(bucket, load.acked)
