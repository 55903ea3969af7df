"""SSE with keys in a KMIP server (--kms-backend kmip, PyKMIP here). Runs only in the suite's
kmip mode (COFFER_KMS_BACKEND=kmip, as scripts/test.sh runs it); the other SSE files run in
that mode too, unchanged. Keys are acted on directly through PyKMIP's own client.
"""
import json
import os
import secrets
import shutil
import subprocess
import tempfile

import oss2
import pytest

import sdkhelpers as h
from conftest import KMS_BACKEND, CofferServer
from pykmip import free_port

pytestmark = pytest.mark.skipif(KMS_BACKEND != "kmip",
                                reason="needs COFFER_KMS_BACKEND=kmip (scripts/test.sh sets it)")


def test_cmk_ids_are_kmip_unique_identifiers(server, o2_admin):
    default_uid = server.bao.client("locate", "coffer-default")
    assert default_uid and " " not in default_uid, "exactly one key named coffer-default"
    r = o2_admin.put_object("default", b"d", headers=h.sse_headers("KMS"))
    assert h.assert_sse(r.headers, "KMS") == default_uid
    tenant = server.bao.client("create", "tenant-a")
    r = o2_admin.put_object("named", b"n", headers=h.sse_headers("KMS+SM4", tenant))
    h.assert_sse(r.headers, "KMS+SM4", key_id=tenant)
    assert o2_admin.get_object("named").read() == b"n"


def test_unknown_revoked_and_destroyed_keys_refuse(server, o2_admin):
    h.expect_error(lambda: o2_admin.put_object("x", b"x", headers=h.sse_headers("KMS", "99999")),
                   404, "KeyNotFound")
    uid = server.bao.client("create", "retired")
    o2_admin.put_object("o", b"x", headers=h.sse_headers("KMS", uid))
    server.bao.client("revoke", uid)
    h.expect_error(lambda: o2_admin.put_object("p", b"x", headers=h.sse_headers("KMS", uid)),
                   409, "KeyDisabled")
    # PyKMIP decrypts with Active keys only.
    h.expect_error(lambda: o2_admin.get_object("o").read(), 409, "KeyDisabled")
    server.bao.client("destroy", uid)
    h.expect_error(lambda: o2_admin.get_object("o").read(), 404, "KeyNotFound")


def test_coffer_kms_manages_kmip_keys_and_refuses_what_kmip_has_not(server, o2_admin):
    """`coffer kms` works on KMIP keys: create (named; prints the unique identifier),
    describe, list, usage, delete-now; what KMIP has no notion of (disable, scheduled
    deletion, rotation, aliases) is refused, saying why and naming kmip."""
    cli = h.CofferCli(server)
    name = "cli-" + secrets.token_hex(4)
    uid = cli.run("kms", "create", "--name", name).stdout.strip()
    assert server.bao.client("locate", name) == uid
    assert uid in cli.run("kms", "list").stdout
    o2_admin.put_object("cli-old", b"old", headers=h.sse_headers("KMS", uid))
    assert o2_admin.get_object("cli-old").read() == b"old"
    assert cli.json("kms", "describe", uid)["KeyState"] == "Enabled"
    usage = cli.json("kms", "usage", uid)["Usage"]
    assert usage == {"GenerateDataKey": 1, "Decrypt": 1}

    for refused in (("disable", uid), ("schedule-deletion", uid, "--days", "7"),
                    ("rotate", uid), ("alias", "create", "alias/a", uid)):
        r = cli.run("kms", *refused, check=False)
        assert r.returncode == 1, r
        assert "UnsupportedOperation" in r.stderr and "kmip" in r.stderr, r.stderr

    cli.run("kms", "delete-now", uid)
    r = cli.run("kms", "describe", uid, check=False)
    assert r.returncode == 1 and "KeyNotFound" in r.stderr, r.stderr
    h.expect_error(lambda: o2_admin.get_object("cli-old").read(), 404, "KeyNotFound")


class _UnreachableKmip:
    """A --kmip-addr where nothing listens, with the session's certificates."""

    def __init__(self, pykmip):
        self.args = pykmip.server_args()
        self.args[self.args.index("--kmip-addr") + 1] = "127.0.0.1:%d" % free_port()

    def server_args(self):
        return self.args + ["--kmip-timeout-ms", "1000"]

    def server_env(self):
        return {}


def test_a_stolen_data_directory_reveals_nothing(server):
    """Objects written with the kmip backend, their data directory then served by a server
    that cannot reach the KMIP server: every encrypted object is refused with a KMS error,
    plaintext objects still read; with the KMIP server back, everything reads again."""
    tmp = tempfile.mkdtemp(prefix="coffer-stolen-")
    try:
        secret = b"stolen-dir-" + secrets.token_hex(16).encode()
        writer = CofferServer(server.binary, tmp, server.bao)
        writer.start()
        try:
            b = h.oss2_bucket(writer, h.unique_name("stolen"), "v1")
            b.create_bucket()
            for method in ("KMS", "AES256", "SM4", "KMS+SM4"):
                b.put_object(method, secret, headers=h.sse_headers(method))
            b.put_object("plain", b"public")
        finally:
            writer.stop()
        for root, _, files in os.walk(writer.data_dir):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    assert secret not in fh.read(), f

        thief = CofferServer(server.binary, tmp, _UnreachableKmip(server.bao))
        thief.access_key_secret = writer.access_key_secret
        thief.start()
        try:
            tb = h.oss2_bucket(thief, b.bucket_name, "v1")
            assert tb.get_object("plain").read() == b"public"
            for method in ("KMS", "AES256", "SM4", "KMS+SM4"):
                with pytest.raises(oss2.exceptions.ServerError) as ei:
                    tb.get_object(method).read()
                h.assert_oss2_error(ei.value, 503, "KmsServiceUnavailable")
                assert "key service" in ei.value.message
        finally:
            thief.stop()

        owner = CofferServer(server.binary, tmp, server.bao)
        owner.access_key_secret = writer.access_key_secret
        owner.start()
        try:
            ob = h.oss2_bucket(owner, b.bucket_name, "v1")
            for method in ("KMS", "AES256", "SM4", "KMS+SM4"):
                assert ob.get_object(method).read() == secret
        finally:
            owner.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _RootKeyOnKmip:
    """The session's KMIP server as the key manager and as the keeper of the root key
    (--root-key kmip:key=NAME)."""

    def __init__(self, pykmip, key):
        self.pykmip = pykmip
        self.key = key

    def server_args(self):
        return self.pykmip.server_args() + ["--root-key", "kmip:key=%s" % self.key]

    def server_env(self):
        return {}


def test_the_root_key_sealed_by_kmip_never_sits_beside_the_data(server):
    """--root-key kmip:key=NAME: the root key exists only sealed by the KMIP server. Started
    without that source, a copy of the data directory is refused at start-up, naming the
    source it needs; with it, everything reads."""
    tmp = tempfile.mkdtemp(prefix="coffer-kmip-root-")
    key = "root-" + secrets.token_hex(4)
    try:
        on_kmip = _RootKeyOnKmip(server.bao, key)
        writer = CofferServer(server.binary, tmp, on_kmip)
        writer.start()
        try:
            b = h.oss2_bucket(writer, h.unique_name("kmiproot"), "v1")
            b.create_bucket()
            for method in ("KMS", "AES256"):
                b.put_object(method, b"sealed " + method.encode(), headers=h.sse_headers(method))
        finally:
            writer.stop()
        with open(os.path.join(writer.data_dir, "root-key.json")) as f:
            record = json.load(f)
        assert record["kind"] == "kmip" and record["source"] == "kmip:key=" + key, record
        assert not os.path.exists(os.path.join(writer.data_dir, "root.key"))
        assert server.bao.client("locate", key), "the sealing key is on the KMIP server"

        refused = subprocess.run(
            [server.binary, "serve", "--data-dir", writer.data_dir,
             "--listen", "127.0.0.1:%d" % free_port(), "--admin-listen", "127.0.0.1:%d" % free_port()]
            + server.bao.server_args(),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
        assert "sealed under an external root key" in refused.stderr, refused.stderr
        assert "kmip:key=" + key in refused.stderr, refused.stderr

        owner = CofferServer(server.binary, tmp, on_kmip)
        owner.access_key_secret = writer.access_key_secret
        owner.start()
        try:
            ob = h.oss2_bucket(owner, b.bucket_name, "v1")
            for method in ("KMS", "AES256"):
                assert ob.get_object(method).read() == b"sealed " + method.encode()
        finally:
            owner.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
