"""The bucket-key cache end to end, on the built-in KMS: with --kms-data-key-cache-seconds,
1,000 GETs of SSE-KMS objects cost at most 10 KMS calls (the KMS's own usage counters say
so), and the audit log still has one line per object key use, those served from cache
marked as such. A CMK disabled while its keys are cached stops serving at once: the
built-in KMS checks every cached use."""
import json
import os
import shutil
import tempfile

import pytest

import sdkhelpers as h
from conftest import KMS_BACKEND, CofferServer, tls_mode

pytestmark = pytest.mark.skipif(KMS_BACKEND != "builtin", reason="counts the built-in KMS's calls")

OBJECTS = 20
READS = 1000


class _Cached:
    """No external key manager; the data-key cache on."""

    def server_args(self):
        return ["--kms-data-key-cache-seconds", "300"]

    def server_env(self):
        return {}


@pytest.fixture(scope="module")
def cached_server(server):
    tmp = tempfile.mkdtemp(prefix="coffer-cache-")
    srv = CofferServer(server.binary, tmp, _Cached(), tls=tls_mode())
    srv.start()
    yield srv
    srv.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def _usage(cli, key):
    out = cli.json("kms", "describe", key)
    u = out.get("KeyMetadata", out)["Usage"]
    return u["GenerateDataKey"], u["Decrypt"]


def _cmk(cli):
    out = cli.json("kms", "create", "--description", "cache test")
    return out.get("KeyId") or out["KeyMetadata"]["KeyId"]


def test_a_thousand_gets_cost_at_most_ten_kms_calls_and_all_are_audited(cached_server):
    cli = h.CofferCli(cached_server)
    cmk = _cmk(cli)
    b = h.oss2_bucket(cached_server, h.unique_name("cache"), "v1")
    b.create_bucket()
    for i in range(OBJECTS):
        b.put_object("o%d" % i, b"body %d" % i, headers=h.sse_headers("KMS", cmk))
    generated, decrypted = _usage(cli, cmk)
    assert (generated, decrypted) == (1, 0), "one bucket key for every PUT"
    for n in range(READS):
        i = n % OBJECTS
        assert b.get_object("o%d" % i).read() == b"body %d" % i
    generated, decrypted = _usage(cli, cmk)
    assert decrypted <= READS // 100, "%d Decrypt calls for %d GETs" % (decrypted, READS)

    audit = os.path.join(cached_server.data_dir, "kms", "audit.log")
    with open(audit) as f:
        lines = [json.loads(line) for line in f]
    uses = [line for line in lines if line.get("key_id") == cmk
            and line["operation"] in ("GenerateDataKey", "Decrypt")]
    by_op = {}
    for line in uses:
        cached = line.get("detail", {}).get("served_from") == "cache"
        by_op.setdefault((line["operation"], cached), 0)
        by_op[(line["operation"], cached)] += 1
    assert by_op.get(("GenerateDataKey", False)) == 1
    assert by_op.get(("GenerateDataKey", True)) == OBJECTS - 1
    assert by_op.get(("Decrypt", False)) == decrypted
    assert by_op.get(("Decrypt", True)) == READS - decrypted, "every GET is in the audit log"


def test_a_cmk_disabled_while_cached_stops_serving_at_once(cached_server):
    cli = h.CofferCli(cached_server)
    cmk = _cmk(cli)
    b = h.oss2_bucket(cached_server, h.unique_name("cache-off"), "v1")
    b.create_bucket()
    b.put_object("o", b"x", headers=h.sse_headers("KMS", cmk))
    assert b.get_object("o").read() == b"x"
    cli.run("kms", "disable", cmk)
    h.expect_error(lambda: b.get_object("o").read(), 409, "KeyDisabled")
    h.expect_error(lambda: b.put_object("p", b"y", headers=h.sse_headers("KMS", cmk)),
                   409, "KeyDisabled")
    cli.run("kms", "enable", cmk)
    assert b.get_object("o").read() == b"x"
