"""Anonymous access (docs/access-control.md, "How a request is decided" step 4 and "KMS
permissions"): ACLs decide for unsigned requests; SSE-OSS objects follow the ACLs like
plaintext ones, but anonymous callers may use no CMK, so SSE-KMS objects are never served
anonymously (403 "This request is forbidden by kms"), whatever the ACL or bucket policy.
A bucket policy with Principal ["*"] can open a private bucket.

No RAM users are needed here: root sets things up, oss2 (AnonymousAuth), the v2 SDK
(AnonymousCredentialsProvider) and plain HTTP requests are the anonymous callers.
"""
import oss2
import pytest
import requests
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

PLAIN_METHODS = ["none", "AES256", "SM4"]
KMS_METHODS = ["KMS", "KMS+SM4"]


def _anon(server, name):
    return oss2.Bucket(oss2.AnonymousAuth(), server.endpoint, name, region=h.REGION)


def _root(server, name, sig="v1"):
    return h.oss2_bucket(server, name, sig)


def _fill(root, methods=PLAIN_METHODS + KMS_METHODS, data=b"payload"):
    for m in methods:
        root.put_object("obj-" + m, data + m.encode(), headers=h.sse_headers(m))


def _audit_anonymous_denied(server, operation, bucket, key):
    return h.wait_for_audit(server, lambda e: e.get("caller") == "anonymous"
                            and e.get("operation") == operation
                            and e.get("outcome") == "AccessDenied"
                            and (e.get("context") or {}).get("bucket") == bucket
                            and (e.get("context") or {}).get("object") == key)


def test_private_bucket_denies_anonymous(server, make_bucket):
    name = make_bucket(prefix="acc-priv")
    root = _root(server, name)
    _fill(root, ["none", "AES256", "KMS"])
    anon = _anon(server, name)
    for m in ("none", "AES256", "KMS"):
        h.expect_error(lambda: anon.get_object("obj-" + m), 403, "AccessDenied")
        resp = requests.get(h.path_url(server, name, "obj-" + m))
        assert resp.status_code == 403
        assert h.parse_error_xml(resp.content)["Code"] == "AccessDenied"
    h.expect_error(lambda: anon.list_objects(), 403, "AccessDenied")
    h.expect_error(lambda: anon.put_object("new", b"x"), 403, "AccessDenied")
    c = h.v2_client(server, anonymous=True)
    h.expect_error(lambda: c.get_object(oss.GetObjectRequest(bucket=name, key="obj-none")))
    h.expect_error(lambda: c.put_object(oss.PutObjectRequest(bucket=name, key="n", body=b"x")))
    # the ACL refusal, not the KMS one
    e = h.expect_error(lambda: anon.get_object("obj-KMS"))
    assert h.KMS_FORBIDDEN not in (e.message or "")
    assert root.object_exists("new") is False


def test_public_read_plain_and_sse_oss(server, make_bucket):
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ, prefix="acc-pr")
    root = _root(server, name)
    data = h.rand_bytes(70000)
    for m in PLAIN_METHODS:
        root.put_object("obj-" + m, data, headers=h.sse_headers(m))
    anon = _anon(server, name)
    c = h.v2_client(server, anonymous=True)
    for m in PLAIN_METHODS:
        g = anon.get_object("obj-" + m)
        assert g.read() == data, m
        h.assert_sse(g.headers, m, what="anonymous GET " + m)
        assert anon.get_object("obj-" + m, byte_range=(100, 199)).read() == data[100:200]
        assert anon.head_object("obj-" + m).content_length == len(data)
        g = c.get_object(oss.GetObjectRequest(bucket=name, key="obj-" + m))
        assert g.body.read() == data
        h.assert_sse_v2(g, m)
        resp = requests.get(h.path_url(server, name, "obj-" + m))
        assert resp.status_code == 200 and resp.content == data
    assert sorted(o.key for o in anon.list_objects().object_list) == \
        sorted("obj-" + m for m in PLAIN_METHODS)
    r = c.list_objects_v2(oss.ListObjectsV2Request(bucket=name))
    assert len(r.contents) == len(PLAIN_METHODS)


def test_public_read_denies_anonymous_writes(server, make_bucket):
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ, prefix="acc-pr")
    root = _root(server, name)
    root.put_object("keep", b"k")
    anon = _anon(server, name)
    h.expect_error(lambda: anon.put_object("anon", b"x"), 403, "AccessDenied")
    h.expect_error(lambda: anon.put_object("anon", b"x", headers=h.sse_headers("AES256")),
                   403, "AccessDenied")
    h.expect_error(lambda: anon.append_object("anon", 0, b"x"), 403, "AccessDenied")
    h.expect_error(lambda: anon.delete_object("keep"), 403, "AccessDenied")
    h.expect_error(lambda: anon.init_multipart_upload("anon"), 403, "AccessDenied")
    c = h.v2_client(server, anonymous=True)
    h.expect_error(lambda: c.put_object(oss.PutObjectRequest(bucket=name, key="anon", body=b"x")))
    # configuration is never public
    h.expect_error(lambda: anon.get_bucket_encryption(), 403, "AccessDenied")
    h.expect_error(lambda: anon.put_bucket_encryption(
        oss2.models.ServerSideEncryptionRule("AES256")), 403, "AccessDenied")
    h.expect_error(lambda: anon.get_bucket_acl(), 403, "AccessDenied")
    h.expect_error(lambda: anon.get_bucket_policy(), 403, "AccessDenied")
    assert root.object_exists("anon") is False
    assert root.get_object("keep").read() == b"k"


@pytest.mark.parametrize("method", KMS_METHODS)
def test_public_read_sse_kms_denied(server, make_bucket, method):
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ, prefix="acc-prk")
    root = _root(server, name)
    data = h.rand_bytes(5000)
    key = "kms-obj"
    root.put_object(key, data, headers=h.sse_headers(method))
    anon = _anon(server, name)
    e = h.expect_error(lambda: anon.get_object(key).read(), 403, "AccessDenied",
                       message=h.KMS_FORBIDDEN)
    assert data[:64] not in (e.body or b"")
    h.expect_error(lambda: anon.get_object(key, byte_range=(0, 9)).read(), 403, "AccessDenied",
                   message=h.KMS_FORBIDDEN)
    c = h.v2_client(server, anonymous=True)
    h.expect_error(lambda: c.get_object(oss.GetObjectRequest(bucket=name, key=key)),
                   403, "AccessDenied", message=h.KMS_FORBIDDEN)
    resp = requests.get(h.path_url(server, name, key))
    assert resp.status_code == 403
    err = h.parse_error_xml(resp.content)
    assert err["Code"] == "AccessDenied" and err["Message"] == h.KMS_FORBIDDEN
    assert data[:64] not in resp.content
    # each refusal is audited, with the anonymous caller
    assert len(_audit_anonymous_denied(server, "Decrypt", name, key)) >= 4
    # listing is still public, and the owner reads the object
    assert [o.key for o in anon.list_objects().object_list] == [key]
    assert root.get_object(key).read() == data


def test_public_read_write(server, make_bucket, cmk):
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ_WRITE, prefix="acc-prw")
    root = _root(server, name)
    anon = _anon(server, name)
    assert anon.put_object("anon", b"written anonymously").status == 200
    assert anon.get_object("anon").read() == b"written anonymously"
    assert root.get_object("anon").read() == b"written anonymously"
    # SSE-OSS needs no CMK
    r = anon.put_object("anon-sm4", b"sm4", headers=h.sse_headers("SM4"))
    h.assert_sse(r.headers, "SM4")
    h.assert_sse(root.head_object("anon-sm4").headers, "SM4")
    assert anon.get_object("anon-sm4").read() == b"sm4"
    c = h.v2_client(server, anonymous=True)
    c.put_object(oss.PutObjectRequest(bucket=name, key="anon-v2", body=b"v2"))
    assert root.get_object("anon-v2").read() == b"v2"
    anon.append_object("anon-ap", 0, b"ap")
    anon.delete_object("anon")
    assert root.object_exists("anon") is False

    # SSE-KMS uploads need a CMK, which anonymous callers may not use
    for hdr in (h.sse_headers("KMS"), h.sse_headers("KMS", cmk)):
        h.expect_error(lambda: anon.put_object("anon-kms", b"x", headers=hdr),
                       403, "AccessDenied", message=h.KMS_FORBIDDEN)
    assert root.object_exists("anon-kms") is False
    assert _audit_anonymous_denied(server, "GenerateDataKey", name, "anon-kms")
    # ... also through the bucket default
    root.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS", cmk))
    h.expect_error(lambda: anon.put_object("anon-default", b"x"), 403, "AccessDenied",
                   message=h.KMS_FORBIDDEN)
    assert root.object_exists("anon-default") is False
    # with an SSE-OSS default, anonymous uploads are encrypted
    root.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("AES256"))
    h.assert_sse(anon.put_object("anon-default", b"x").headers, "AES256")
    # configuration is never public, even under public-read-write
    h.expect_error(lambda: anon.delete_bucket_encryption(), 403, "AccessDenied")
    h.expect_error(lambda: anon.put_bucket_acl("private"), 403, "AccessDenied")


def test_object_acl_private_overrides_public_read_bucket(server, make_bucket):
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ, prefix="acc-oacl")
    root = _root(server, name)
    root.put_object("locked", b"x", headers={"x-oss-object-acl": "private",
                                              h.SSE_HDR: "AES256"})
    root.put_object("open", b"y", headers=h.sse_headers("SM4"))
    root.put_object("later", b"z")
    anon = _anon(server, name)
    h.expect_error(lambda: anon.get_object("locked"), 403, "AccessDenied")
    assert anon.get_object("open").read() == b"y"
    assert anon.get_object("later").read() == b"z"
    root.put_object_acl("later", oss2.OBJECT_ACL_PRIVATE)
    h.expect_error(lambda: anon.get_object("later"), 403, "AccessDenied")
    root.put_object_acl("later", oss2.OBJECT_ACL_DEFAULT)
    assert anon.get_object("later").read() == b"z"
    # and the reverse: a public-read object in a private bucket
    private = make_bucket(prefix="acc-oacl")
    proot = _root(server, private)
    proot.put_object("pub", b"p", headers={"x-oss-object-acl": "public-read",
                                           h.SSE_HDR: "AES256"})
    proot.put_object("pub-kms", b"k", headers={"x-oss-object-acl": "public-read",
                                               h.SSE_HDR: "KMS"})
    panon = _anon(server, private)
    assert panon.get_object("pub").read() == b"p"
    h.expect_error(lambda: panon.get_object("pub-kms").read(), 403, "AccessDenied",
                   message=h.KMS_FORBIDDEN)
    h.expect_error(lambda: panon.list_objects(), 403, "AccessDenied")


def test_bucket_policy_opens_private_bucket(server, make_bucket, sig):
    name = make_bucket(prefix="acc-bpanon")
    root = _root(server, name, sig)
    root.put_object("pub/a", b"a")
    root.put_object("pub/enc", b"e", headers=h.sse_headers("SM4"))
    root.put_object("pub/kms", b"k", headers=h.sse_headers("KMS"))
    root.put_object("secret", b"s")
    anon = _anon(server, name)
    h.expect_error(lambda: anon.get_object("pub/a"))

    root.put_bucket_policy(h.policy_doc(h.allow("oss:GetObject", h.bucket_arn(name, "pub/*"),
                                                principal=["*"])))
    assert anon.get_object("pub/a").read() == b"a"
    assert anon.get_object("pub/enc").read() == b"e"
    assert requests.get(h.path_url(server, name, "pub/a")).content == b"a"
    c = h.v2_client(server, anonymous=True)
    assert c.get_object(oss.GetObjectRequest(bucket=name, key="pub/a")).body.read() == b"a"
    # the policy grants no CMK
    h.expect_error(lambda: anon.get_object("pub/kms").read(), 403, "AccessDenied",
                   message=h.KMS_FORBIDDEN)
    # only what it names
    h.expect_error(lambda: anon.get_object("secret"), 403, "AccessDenied")
    h.expect_error(lambda: anon.list_objects(), 403, "AccessDenied")
    h.expect_error(lambda: anon.put_object("pub/new", b"x"), 403, "AccessDenied")

    root.delete_bucket_policy()
    h.expect_error(lambda: anon.get_object("pub/a"), 403, "AccessDenied")


def test_bucket_policy_principal_forms(server, make_bucket):
    """"*", ["*"] and [] all mean everyone, anonymous callers included."""
    name = make_bucket(prefix="acc-bpanon")
    root = _root(server, name)
    root.put_object("o", b"o")
    anon = _anon(server, name)
    for principal in ("*", ["*"], []):
        root.put_bucket_policy(h.policy_doc(h.allow("oss:GetObject", h.bucket_arn(name, "*"),
                                                    principal=principal)))
        assert anon.get_object("o").read() == b"o", principal


def test_bucket_policy_deny_beats_public_acl(server, make_bucket):
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ_WRITE, prefix="acc-bpdeny")
    root = _root(server, name)
    root.put_object("ro/x", b"x")
    root.put_bucket_policy(h.policy_doc(h.deny(["oss:PutObject", "oss:DeleteObject"],
                                               h.bucket_arn(name, "ro/*"), principal=["*"])))
    anon = _anon(server, name)
    h.expect_error(lambda: anon.put_object("ro/y", b"y"), 403, "AccessDenied")
    h.expect_error(lambda: anon.delete_object("ro/x"), 403, "AccessDenied")
    assert anon.get_object("ro/x").read() == b"x"
    anon.put_object("rw/y", b"y")
    # without a condition, a "*" statement does not apply to the owner
    root.put_object("ro/z", b"z")
