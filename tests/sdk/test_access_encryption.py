"""Who may configure and use server-side encryption (docs/access-control.md, "Actions" and
"KMS permissions"): Put/Get/DeleteBucketEncryption under RAM policies, and the KMS
permissions an SSE-KMS upload (kms:GenerateDataKey) and download (kms:Decrypt) need, with
the KMS audit log recording every refusal.

The unmodified SDKs sign as RAM users created with `coffer admin ...` (one set per module).
"""
import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

Rule = oss2.models.ServerSideEncryptionRule
ENC_ACTIONS = ["oss:PutBucketEncryption", "oss:GetBucketEncryption", "oss:DeleteBucketEncryption"]


def _v2_rule(alg, key_id=None):
    return oss.ServerSideEncryptionRule(
        apply_server_side_encryption_by_default=oss.ApplyServerSideEncryptionByDefault(
            sse_algorithm=alg, kms_master_key_id=key_id))


# ---------------------------------------------------------------- Put/Get/DeleteBucketEncryption

@pytest.fixture(scope="module")
def enc_bucket(module_bucket):
    return module_bucket(prefix="acc-enc")


@pytest.fixture(scope="module")
def enc_users(ram, enc_bucket):
    arn = h.bucket_arn(enc_bucket)
    users = {
        "nobody": ram.user(),
        "allowed": ram.user(h.policy_doc(h.allow(ENC_ACTIONS, arn))),
        # allowed everything by one policy, denied the encryption actions by another
        "denied": ram.user(h.policy_doc(h.allow("oss:*", "*")),
                           h.policy_doc(h.deny(ENC_ACTIONS, arn))),
    }
    for action in ENC_ACTIONS:
        users[action] = ram.user(h.policy_doc(h.allow(action, arn)))
    return users


@pytest.fixture
def enc_root(server, enc_bucket):
    """Root handle on the module's bucket, with its encryption reset to AES256."""
    b = h.oss2_bucket(server, enc_bucket, "v1")
    b.put_bucket_encryption(Rule("AES256"))
    return b


def _enc_calls(b):
    return {
        "oss:PutBucketEncryption": lambda: b.put_bucket_encryption(Rule("SM4")),
        "oss:GetBucketEncryption": lambda: b.get_bucket_encryption(),
        "oss:DeleteBucketEncryption": lambda: b.delete_bucket_encryption(),
    }


def test_encryption_config_no_policy_denied(enc_users, enc_root, enc_bucket, sig):
    b = enc_users["nobody"].bucket(enc_bucket, sig)
    for action, call in _enc_calls(b).items():
        h.expect_error(call, 403, "AccessDenied")
    assert enc_root.get_bucket_encryption().sse_algorithm == "AES256"


def test_encryption_config_allowed(enc_users, enc_root, enc_bucket, sig):
    b = enc_users["allowed"].bucket(enc_bucket, sig)
    assert b.get_bucket_encryption().sse_algorithm == "AES256"
    assert b.put_bucket_encryption(Rule("SM4")).status == 200
    assert b.get_bucket_encryption().sse_algorithm == "SM4"
    assert enc_root.get_bucket_encryption().sse_algorithm == "SM4"
    assert b.delete_bucket_encryption().status == 204
    h.expect_error(b.get_bucket_encryption, 404, "NoSuchServerSideEncryptionRule")


def test_encryption_config_explicit_deny_wins(enc_users, enc_root, enc_bucket, sig, server):
    user = enc_users["denied"]
    # an Allow in the bucket policy does not help either
    enc_root.put_bucket_policy(h.policy_doc(
        h.allow(ENC_ACTIONS, h.bucket_arn(enc_bucket), principal=[user.id])))
    try:
        b = user.bucket(enc_bucket, sig)
        for action, call in _enc_calls(b).items():
            h.expect_error(call, 403, "AccessDenied")
        # the allow-all policy still works for everything else
        b.put_object("denied-user-obj", b"x")
        assert b.get_object("denied-user-obj").read() == b"x"
    finally:
        enc_root.delete_bucket_policy()
    assert enc_root.get_bucket_encryption().sse_algorithm == "AES256"


@pytest.mark.parametrize("action", ENC_ACTIONS)
def test_encryption_config_one_action_each(enc_users, enc_root, enc_bucket, action):
    """A policy allowing one of the three actions allows exactly that one."""
    b = enc_users[action].bucket(enc_bucket, "v4")
    for other, call in _enc_calls(b).items():
        if other == action:
            call()
        else:
            h.expect_error(call, 403, "AccessDenied")


def test_encryption_config_v2(enc_users, enc_root, enc_bucket, sig):
    nobody = enc_users["nobody"].v2(sig)
    allowed = enc_users["allowed"].v2(sig)
    h.expect_error(lambda: nobody.put_bucket_encryption(oss.PutBucketEncryptionRequest(
        bucket=enc_bucket, server_side_encryption_rule=_v2_rule("SM4"))))
    h.expect_error(lambda: nobody.get_bucket_encryption(
        oss.GetBucketEncryptionRequest(bucket=enc_bucket)))
    h.expect_error(lambda: nobody.delete_bucket_encryption(
        oss.DeleteBucketEncryptionRequest(bucket=enc_bucket)))
    r = allowed.put_bucket_encryption(oss.PutBucketEncryptionRequest(
        bucket=enc_bucket, server_side_encryption_rule=_v2_rule("KMS")))
    assert r.status_code == 200
    got = allowed.get_bucket_encryption(oss.GetBucketEncryptionRequest(bucket=enc_bucket))
    assert got.server_side_encryption_rule.apply_server_side_encryption_by_default \
        .sse_algorithm == "KMS"
    r = allowed.delete_bucket_encryption(oss.DeleteBucketEncryptionRequest(bucket=enc_bucket))
    assert r.status_code == 204


# ---------------------------------------------------------------- SSE-KMS: kms:GenerateDataKey / kms:Decrypt

@pytest.fixture(scope="module")
def kms_bucket(module_bucket):
    return module_bucket(prefix="acc-kms")


@pytest.fixture(scope="module")
def the_cmk(cli):
    if not h.has_subcommand("kms"):
        pytest.skip("no `kms` subcommand")
    return cli.create_cmk()


@pytest.fixture(scope="module")
def kms_users(ram, kms_bucket, the_cmk, cli):
    other_cmk = cli.create_cmk()
    objects = h.allow(["oss:PutObject", "oss:GetObject", "oss:ListParts",
                       "oss:AbortMultipartUpload"], h.bucket_arn(kms_bucket, "*"))
    return {
        "other_cmk": other_cmk,
        # oss permissions only
        "oss_only": ram.user(h.policy_doc(objects)),
        # may encrypt under the CMK, not decrypt
        "gdk": ram.user(h.policy_doc(objects, h.allow("kms:GenerateDataKey",
                                                       h.kms_arn(the_cmk)))),
        # may encrypt and decrypt under the CMK
        "full": ram.user(h.policy_doc(objects, h.allow(["kms:GenerateDataKey", "kms:Decrypt"],
                                                        h.kms_arn(the_cmk)))),
        # may use another CMK only
        "other": ram.user(h.policy_doc(objects, h.allow(["kms:GenerateDataKey", "kms:Decrypt"],
                                                         h.kms_arn(other_cmk)))),
        # kms:* on every key, but Decrypt under the_cmk explicitly denied
        "deny_decrypt": ram.user(h.policy_doc(
            objects, h.allow("kms:*", "acs:kms:*:*:key/*"),
            h.deny("kms:Decrypt", h.kms_arn(the_cmk)))),
        # kms:* on every key (one policy), both data-key actions on the_cmk denied (another)
        "deny_kms": ram.user(h.policy_doc(objects, h.allow("kms:*", "acs:kms:*:*:key/*")),
                             h.policy_doc(h.deny(["kms:GenerateDataKey", "kms:Decrypt"],
                                                 h.kms_arn(the_cmk)))),
        # everything allowed, the object actions explicitly denied
        "deny_oss": ram.user(h.policy_doc(h.allow(["oss:*", "kms:*"], "*"),
                                          h.deny(["oss:PutObject", "oss:GetObject"],
                                                 h.bucket_arn(kms_bucket, "*")))),
        # no policy at all
        "nobody": ram.user(),
        # kms permissions but no oss:PutObject / oss:GetObject
        "kms_only": ram.user(h.policy_doc(h.allow(["kms:GenerateDataKey", "kms:Decrypt"],
                                                   h.kms_arn(the_cmk)))),
    }


def _kms_hdr(key_id, sm4=False):
    hd = {h.SSE_HDR: "KMS", h.SSE_KEY_HDR: key_id}
    if sm4:
        hd[h.SSE_DATA_HDR] = "SM4"
    return hd


def _assert_audit_denied(server, caller, operation, key_id, bucket, key):
    def match(e):
        return (e.get("caller") == caller and e.get("operation") == operation
                and e.get("key_id") == key_id and e.get("outcome") == "AccessDenied"
                and (e.get("context") or {}).get("object") == key
                and (e.get("context") or {}).get("bucket") == bucket)
    hits = h.wait_for_audit(server, match)
    assert len(hits) == 1, "expected one %s AccessDenied audit line for %s/%s by %s, got %r" % (
        operation, bucket, key, caller, hits)


@pytest.fixture
def kms_root(server, kms_bucket):
    b = h.oss2_bucket(server, kms_bucket, "v1")
    b.delete_bucket_encryption()
    return b


def test_kms_put_needs_generate_data_key(server, kms_users, kms_root, kms_bucket, the_cmk, sig):
    user = kms_users["oss_only"]
    b = user.bucket(kms_bucket, sig)
    key = "no-gdk-%s" % sig
    for sm4 in (False, True):
        h.expect_error(lambda: b.put_object(key, b"secret data", headers=_kms_hdr(the_cmk, sm4)),
                       403, "AccessDenied", message=h.KMS_FORBIDDEN)
    assert kms_root.object_exists(key) is False
    hits = h.wait_for_audit(server, lambda e: e.get("caller") == user.ak
                            and e.get("operation") == "GenerateDataKey"
                            and e.get("key_id") == the_cmk
                            and e.get("outcome") == "AccessDenied"
                            and (e.get("context") or {}).get("object") == key)
    assert len(hits) == 2, hits
    # encryption that needs no CMK is fine
    b.put_object(key, b"aes", headers=h.sse_headers("AES256"))
    b.put_object(key + "-plain", b"plain")
    assert b.get_object(key).read() == b"aes"


def test_kms_put_with_generate_data_key(server, kms_users, kms_root, kms_bucket, the_cmk, sig):
    b = kms_users["full"].bucket(kms_bucket, sig)
    key = "gdk-ok-%s" % sig
    data = h.rand_bytes(70000)
    r = b.put_object(key, data, headers=_kms_hdr(the_cmk))
    h.assert_sse(r.headers, "KMS", the_cmk)
    g = b.get_object(key)
    assert g.read() == data
    h.assert_sse(g.headers, "KMS", the_cmk)
    r = b.put_object(key + "-sm4", data, headers=_kms_hdr(the_cmk, sm4=True))
    h.assert_sse(r.headers, "KMS+SM4", the_cmk)
    assert b.get_object(key + "-sm4").read() == data


def test_kms_get_needs_decrypt(server, kms_users, kms_root, kms_bucket, the_cmk, sig):
    user = kms_users["gdk"]
    b = user.bucket(kms_bucket, sig)
    key = "gdk-only-%s" % sig
    data = h.rand_bytes(5000)
    h.assert_sse(b.put_object(key, data, headers=_kms_hdr(the_cmk)).headers, "KMS", the_cmk)
    e = h.expect_error(lambda: b.get_object(key).read(), 403, "AccessDenied",
                       message=h.KMS_FORBIDDEN)
    assert data[:64] not in (e.body or b"")
    h.expect_error(lambda: b.get_object(key, byte_range=(0, 9)).read(), 403, "AccessDenied",
                   message=h.KMS_FORBIDDEN)
    # HEAD needs no key (the metadata is not encrypted)
    assert b.head_object(key).content_length == len(data)
    hits = h.wait_for_audit(server, lambda e: e.get("caller") == user.ak
                            and e.get("operation") == "Decrypt"
                            and e.get("key_id") == the_cmk
                            and e.get("outcome") == "AccessDenied"
                            and (e.get("context") or {}).get("object") == key)
    assert len(hits) == 2, hits
    # root and a user with kms:Decrypt read it
    assert kms_root.get_object(key).read() == data
    assert kms_users["full"].bucket(kms_bucket, sig).get_object(key).read() == data


def test_kms_permission_is_per_key(server, kms_users, kms_root, kms_bucket, the_cmk, sig):
    user = kms_users["other"]
    b = user.bucket(kms_bucket, sig)
    key = "per-key-%s" % sig
    h.expect_error(lambda: b.put_object(key, b"x", headers=_kms_hdr(the_cmk)),
                   403, "AccessDenied", message=h.KMS_FORBIDDEN)
    _assert_audit_denied(server, user.ak, "GenerateDataKey", the_cmk, kms_bucket, key)
    # its own key works
    other = kms_users["other_cmk"]
    h.assert_sse(b.put_object(key, b"x", headers=_kms_hdr(other)).headers, "KMS", other)
    assert b.get_object(key).read() == b"x"
    # but not objects under the_cmk
    kms_root.put_object(key + "-root", b"y", headers=_kms_hdr(the_cmk))
    h.expect_error(lambda: b.get_object(key + "-root").read(), 403, "AccessDenied",
                   message=h.KMS_FORBIDDEN)
    _assert_audit_denied(server, user.ak, "Decrypt", the_cmk, kms_bucket, key + "-root")


def test_kms_explicit_deny_wins(server, kms_users, kms_root, kms_bucket, the_cmk, sig):
    user = kms_users["deny_decrypt"]
    b = user.bucket(kms_bucket, sig)
    key = "deny-decrypt-%s" % sig
    h.assert_sse(b.put_object(key, b"z", headers=_kms_hdr(the_cmk)).headers, "KMS", the_cmk)
    h.expect_error(lambda: b.get_object(key).read(), 403, "AccessDenied",
                   message=h.KMS_FORBIDDEN)
    _assert_audit_denied(server, user.ak, "Decrypt", the_cmk, kms_bucket, key)
    # the allow on key/* still covers other keys
    other = kms_users["other_cmk"]
    b.put_object(key + "-o", b"o", headers=_kms_hdr(other))
    assert b.get_object(key + "-o").read() == b"o"


def test_kms_explicit_deny_both(server, kms_users, kms_root, kms_bucket, the_cmk, sig):
    user = kms_users["deny_kms"]
    b = user.bucket(kms_bucket, sig)
    key = "deny-kms-%s" % sig
    h.expect_error(lambda: b.put_object(key, b"z", headers=_kms_hdr(the_cmk)), 403,
                   "AccessDenied", message=h.KMS_FORBIDDEN)
    _assert_audit_denied(server, user.ak, "GenerateDataKey", the_cmk, kms_bucket, key)
    assert kms_root.object_exists(key) is False
    kms_root.put_object(key, b"z", headers=_kms_hdr(the_cmk))
    h.expect_error(lambda: b.get_object(key).read(), 403, "AccessDenied",
                   message=h.KMS_FORBIDDEN)
    _assert_audit_denied(server, user.ak, "Decrypt", the_cmk, kms_bucket, key)
    other = kms_users["other_cmk"]
    b.put_object(key + "-o", b"o", headers=_kms_hdr(other))
    assert b.get_object(key + "-o").read() == b"o"


@pytest.mark.parametrize("who", ["nobody", "kms_only", "deny_oss"])
def test_kms_without_oss_permission(server, kms_users, kms_root, kms_bucket, the_cmk, sig, who):
    """KMS permissions do not replace the OSS ones: the refusal is the policy's (or the
    ACL's), not the KMS', and no CMK is touched."""
    user = kms_users[who]
    b = user.bucket(kms_bucket, sig)
    key = "no-oss-%s-%s" % (who, sig)
    e = h.expect_error(lambda: b.put_object(key, b"x", headers=_kms_hdr(the_cmk)))
    assert h.KMS_FORBIDDEN not in (e.message or "")
    assert kms_root.object_exists(key) is False
    kms_root.put_object(key, b"x", headers=_kms_hdr(the_cmk))
    e = h.expect_error(lambda: b.get_object(key).read())
    assert h.KMS_FORBIDDEN not in (e.message or "")
    assert not [ev for ev in h.kms_audit_events(server) if ev.get("caller") == user.ak]


def test_kms_bucket_default_needs_generate_data_key(server, kms_users, kms_root, kms_bucket,
                                                    the_cmk, sig):
    """A bucket default of SSE-KMS needs the same permission as an explicit header."""
    kms_root.put_bucket_encryption(Rule("KMS", the_cmk))
    try:
        user = kms_users["oss_only"]
        key = "default-%s" % sig
        h.expect_error(lambda: user.bucket(kms_bucket, sig).put_object(key, b"x"),
                       403, "AccessDenied", message=h.KMS_FORBIDDEN)
        _assert_audit_denied(server, user.ak, "GenerateDataKey", the_cmk, kms_bucket, key)
        assert kms_root.object_exists(key) is False
        r = kms_users["full"].bucket(kms_bucket, sig).put_object(key, b"x")
        h.assert_sse(r.headers, "KMS", the_cmk)
    finally:
        kms_root.delete_bucket_encryption()


def test_kms_multipart(server, kms_users, kms_root, kms_bucket, the_cmk):
    """Initiate needs kms:GenerateDataKey; uploading a part of an SSE-KMS upload needs
    kms:Decrypt (the upload's data key is unwrapped for each part)."""
    key = "mp-kms"
    oss_only = kms_users["oss_only"].bucket(kms_bucket, "v4")
    h.expect_error(lambda: oss_only.init_multipart_upload(key, headers=_kms_hdr(the_cmk)),
                   403, "AccessDenied", message=h.KMS_FORBIDDEN)
    _assert_audit_denied(server, kms_users["oss_only"].ak, "GenerateDataKey", the_cmk,
                         kms_bucket, key)

    gdk_user = kms_users["gdk"]
    gdk = gdk_user.bucket(kms_bucket, "v4")
    init = gdk.init_multipart_upload(key, headers=_kms_hdr(the_cmk))
    h.assert_sse(init.headers, "KMS", the_cmk)
    h.expect_error(lambda: gdk.upload_part(key, init.upload_id, 1, b"p" * 1000),
                   403, "AccessDenied", message=h.KMS_FORBIDDEN)
    _assert_audit_denied(server, gdk_user.ak, "Decrypt", the_cmk, kms_bucket, key)
    gdk.abort_multipart_upload(key, init.upload_id)

    full = kms_users["full"].bucket(kms_bucket, "v4")
    init = full.init_multipart_upload(key, headers=_kms_hdr(the_cmk))
    p = full.upload_part(key, init.upload_id, 1, b"p" * 1000)
    full.complete_multipart_upload(key, init.upload_id, [oss2.models.PartInfo(1, p.etag)])
    assert full.get_object(key).read() == b"p" * 1000


def test_kms_v2(server, kms_users, kms_root, kms_bucket, the_cmk, sig):
    key = "v2-kms-%s" % sig
    oss_only = kms_users["oss_only"].v2(sig)
    h.expect_error(lambda: oss_only.put_object(oss.PutObjectRequest(
        bucket=kms_bucket, key=key, body=b"v2", **h.sse_v2_kwargs("KMS", the_cmk))),
        403, "AccessDenied", message=h.KMS_FORBIDDEN)
    _assert_audit_denied(server, kms_users["oss_only"].ak, "GenerateDataKey", the_cmk,
                         kms_bucket, key)
    gdk = kms_users["gdk"].v2(sig)
    gdk.put_object(oss.PutObjectRequest(bucket=kms_bucket, key=key, body=b"v2",
                                        **h.sse_v2_kwargs("KMS+SM4", the_cmk)))
    h.expect_error(lambda: gdk.get_object(oss.GetObjectRequest(bucket=kms_bucket, key=key)),
                   403, "AccessDenied", message=h.KMS_FORBIDDEN)
    _assert_audit_denied(server, kms_users["gdk"].ak, "Decrypt", the_cmk, kms_bucket, key)
    full = kms_users["full"].v2(sig)
    g = full.get_object(oss.GetObjectRequest(bucket=kms_bucket, key=key))
    assert g.body.read() == b"v2"
    h.assert_sse_v2(g, "KMS+SM4", the_cmk)
