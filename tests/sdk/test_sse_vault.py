"""SSE with keys in OpenBao Transit (--kms-backend vault). Runs only in the suite's vault
mode (COFFER_KMS_BACKEND=vault, as scripts/test.sh runs it); the other SSE files run in that
mode too, unchanged.
"""
import os
import secrets
import shutil
import tempfile
import time

import oss2
import pytest

import sdkhelpers as h
from conftest import KMS_BACKEND, CofferServer
from openbao import ROOT_TOKEN, free_port

pytestmark = pytest.mark.skipif(KMS_BACKEND != "vault",
                                reason="needs COFFER_KMS_BACKEND=vault (scripts/test.sh sets it)")


def test_cmk_ids_are_transit_key_names(server, o2_admin):
    r = o2_admin.put_object("default", b"d", headers=h.sse_headers("KMS"))
    assert h.assert_sse(r.headers, "KMS") == "coffer-default"
    server.bao.create_key("tenant-a")
    r = o2_admin.put_object("named", b"n", headers=h.sse_headers("KMS+SM4", "tenant-a"))
    h.assert_sse(r.headers, "KMS+SM4", key_id="tenant-a")
    assert o2_admin.get_object("named").read() == b"n"
    # Coffer created both of its keys derived, so each wrap is bound to its object.
    for name in ("coffer-default", "coffer-sse-oss"):
        assert server.bao.cli("read", "-field=derived", "transit/keys/" + name).strip() == "true"


def test_rotating_the_transit_key_keeps_old_objects_readable(server, o2_admin):
    server.bao.create_key("rotating")
    o2_admin.put_object("old", b"old", headers=h.sse_headers("KMS", "rotating"))
    server.bao.cli("write", "-f", "transit/keys/rotating/rotate")
    o2_admin.put_object("new", b"new", headers=h.sse_headers("KMS", "rotating"))
    assert o2_admin.get_object("old").read() == b"old"
    assert o2_admin.get_object("new").read() == b"new"


def test_retired_key_version_refuses_its_objects(server, o2_admin):
    server.bao.create_key("retired")
    o2_admin.put_object("o", b"x", headers=h.sse_headers("KMS", "retired"))
    server.bao.cli("write", "-f", "transit/keys/retired/rotate")
    server.bao.cli("write", "transit/keys/retired/config", "min_decryption_version=2")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2_admin.get_object("o")
    h.assert_oss2_error(ei.value, 409, "KeyDisabled")


def test_kms_admin_says_keys_live_in_vault(server):
    r = h.CofferCli(server).run("kms", "list", check=False)
    assert r.returncode != 0
    assert "vault" in (r.stdout + r.stderr)


def test_anonymous_readers_are_refused_vault_held_cmks(server, make_bucket):
    """Coffer's token may use every Transit key; who may use a CMK is still Coffer's decision.
    An anonymous reader of a public-read bucket gets no SSE-KMS object, SSE-OSS ones it does."""
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ, prefix="vault-anon")
    root = h.oss2_bucket(server, name, "v1")
    root.put_object("kms", b"secret", headers=h.sse_headers("KMS"))
    root.put_object("oss", b"public", headers=h.sse_headers("AES256"))
    anon = oss2.Bucket(oss2.AnonymousAuth(), server.endpoint, name, region=h.REGION)
    e = h.expect_error(lambda: anon.get_object("kms").read(), 403, "AccessDenied",
                       message=h.KMS_FORBIDDEN)
    assert b"secret" not in (e.body or b"")
    assert anon.get_object("oss").read() == b"public"
    assert root.get_object("kms").read() == b"secret"


class _ShortDeadline:
    """The session's OpenBao, with a 1 s deadline per call."""

    def __init__(self, bao):
        self.bao = bao

    def server_args(self):
        return self.bao.server_args() + ["--vault-timeout-ms", "1000"]

    def server_env(self):
        return self.bao.server_env()


def test_a_paused_openbao_fails_kms_requests_in_bounded_time_and_recovers(server):
    """OpenBao stopped (SIGSTOP) under a running server: SSE requests fail with 503 within the
    deadline (no hang), objects that need no key keep working, and after SIGCONT the same
    server serves SSE again without a restart."""
    tmp = tempfile.mkdtemp(prefix="coffer-pause-")
    srv = CofferServer(server.binary, tmp, _ShortDeadline(server.bao))
    srv.start()
    paused = False
    try:
        b = h.oss2_bucket(srv, h.unique_name("pause"), "v1")
        b.create_bucket()
        b.put_object("kms", b"k", headers=h.sse_headers("KMS"))
        b.put_object("plain", b"p")
        server.bao.pause()
        paused = True
        for call in (lambda: b.get_object("kms").read(),
                     lambda: b.put_object("new", b"n", headers=h.sse_headers("AES256"))):
            started = time.monotonic()
            with pytest.raises(oss2.exceptions.ServerError) as ei:
                call()
            assert time.monotonic() - started < 5
            h.assert_oss2_error(ei.value, 503, "KmsServiceUnavailable")
        assert b.get_object("plain").read() == b"p"
        server.bao.resume()
        paused = False
        assert b.get_object("kms").read() == b"k"
        b.put_object("new", b"n", headers=h.sse_headers("AES256"))
        assert b.get_object("new").read() == b"n"
    finally:
        if paused:
            server.bao.resume()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class _UnreachableVault:
    """A --vault-addr where nothing listens: the data directory without its key manager."""

    def __init__(self):
        self.addr = "http://127.0.0.1:%d" % free_port()

    def server_args(self):
        return ["--kms-backend", "vault", "--vault-addr", self.addr, "--vault-timeout-ms", "1000"]

    def server_env(self):
        return {"VAULT_TOKEN": ROOT_TOKEN}


def test_a_stolen_data_directory_reveals_nothing(server):
    """Objects written with the vault backend, their data directory then served by a fresh
    server that cannot reach the key manager: every encrypted object is refused with a KMS
    error (never plaintext, never a hang), plaintext objects still read. The same directory
    with OpenBao reachable again serves everything: the data was intact, only the key missing."""
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

        thief = CofferServer(server.binary, tmp, _UnreachableVault())
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
