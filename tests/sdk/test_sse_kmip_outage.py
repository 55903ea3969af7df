"""Key-manager outages against a real PyKMIP server (issue 13 §2): Coffer on the kmip
backend, under a small concurrent load of SSE-KMS and plain PUT/GET, while the KMIP server
is paused (SIGSTOP), or killed and started again on its SQLite store.

What must hold, as with OpenBao (test_sse_vault_outage.py, whose load and checks this
shares): SSE requests fail closed with the KMS's 503 within a bounded time (never a hang),
plain objects keep working, requests succeed again once the server is back without
restarting Coffer, and nothing acknowledged is lost.

Runs in the suite's kmip mode (scripts/test.sh); its own PyKMIP, so the session's server is
never disturbed.
"""
import shutil
import tempfile

import pytest

import sdkhelpers as h
from conftest import KMS_BACKEND, CofferServer
from outage import bounds, killed_and_started_again, paused_under_load
from pykmip import PyKmip

pytestmark = pytest.mark.skipif(KMS_BACKEND != "kmip",
                                reason="needs COFFER_KMS_BACKEND=kmip (scripts/test.sh sets it)")

TIMEOUT_S = 1.0
DEADLINE_S, BOUND_S = bounds(TIMEOUT_S)
# Long enough that a request starting after one stuck since before the pause also fails
# before SIGCONT.
PAUSE_S = 2 * DEADLINE_S + 1
COOLDOWN_MS = 500


class _Backend:
    """Coffer's flags for the module's PyKMIP: a short deadline and cool-down."""

    def __init__(self, kmip):
        self.kmip = kmip

    def server_args(self):
        return self.kmip.server_args() + [
            "--kmip-timeout-ms", str(int(TIMEOUT_S * 1000)),
            "--kms-breaker-cooldown-ms", str(COOLDOWN_MS)]

    def server_env(self):
        return {}


@pytest.fixture(scope="module")
def kmip():
    tmp = tempfile.mkdtemp(prefix="coffer-pykmip-")
    k = PyKmip(tmp)
    k.start()
    yield k
    k.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def coffer(server, kmip):
    """A Coffer of its own on the module's PyKMIP; yields a started bucket."""
    tmp = tempfile.mkdtemp(prefix="coffer-kmip-outage-")
    srv = CofferServer(server.binary, tmp, _Backend(kmip))
    srv.start()
    try:
        b = h.oss2_bucket(srv, h.unique_name("kmipout"), "v1")
        b.create_bucket()
        yield b
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_paused_kmip_server_under_load(coffer, kmip):
    """SIGSTOP: SSE-KMS requests fail with the KMS's 503 within the bound, plain ones keep
    working, no request hangs; SIGCONT: SSE-KMS serves again, no restart."""
    paused_under_load(coffer, kmip, PAUSE_S, BOUND_S,
                      recovery_s=BOUND_S + COOLDOWN_MS / 1000 + 5)


def test_a_kmip_server_killed_and_started_again(coffer, kmip):
    """SIGKILL, then the same port and key store again: everything acknowledged before and
    during the outage reads back; SSE requests failed with 503 meanwhile and succeed
    afterwards."""
    killed_and_started_again(coffer, kmip, 2 * TIMEOUT_S, BOUND_S,
                             recovery_s=BOUND_S + COOLDOWN_MS / 1000 + 10)
