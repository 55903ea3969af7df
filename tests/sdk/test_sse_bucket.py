"""Bucket default encryption: Put/Get/DeleteBucketEncryption and the §1.3 validation table,
GetBucketInfo's flat rule with the literal `None`, and SSE headers on PutBucket
(reference §1.1 - §1.6, §2.5)."""
import uuid

import oss2
import pytest
import requests
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

Rule = oss2.models.ServerSideEncryptionRule


def _v2_rule(alg, key_id=None, data=None):
    return oss.ServerSideEncryptionRule(
        apply_server_side_encryption_by_default=oss.ApplyServerSideEncryptionByDefault(
            sse_algorithm=alg, kms_master_key_id=key_id, kms_data_encryption=data))


def _v2_get_rule(v2, bucket):
    r = v2.get_bucket_encryption(oss.GetBucketEncryptionRequest(bucket=bucket))
    assert r.status_code == 200
    return r.server_side_encryption_rule.apply_server_side_encryption_by_default


# ---------------------------------------------------------------- §1.3, row by row (oss2)

# (rule to put, expected (SSEAlgorithm, KMSMasterKeyID, KMSDataEncryption) read back)
ACCEPTED_RULES = [
    pytest.param(("AES256", None, None), ("AES256", None, None), id="AES256"),
    pytest.param(("SM4", None, None), ("SM4", None, None), id="SM4"),
    pytest.param(("KMS", None, None), ("KMS", None, None), id="KMS-no-key-id"),
    # §1.3: the key id is NOT validated at Put time and is returned verbatim.
    pytest.param(("KMS", "123", None), ("KMS", "123", None), id="KMS-key-123"),
    pytest.param(("KMS", "test_wrong", None), ("KMS", "test_wrong", None), id="KMS-key-test_wrong"),
    pytest.param(("KMS", None, "SM4"), ("KMS", None, "SM4"), id="KMS+SM4-no-key-id"),
    pytest.param(("KMS", "9468da86-3509-4f8d-a61e-6eab1eac0000", "SM4"),
                 ("KMS", "9468da86-3509-4f8d-a61e-6eab1eac0000", "SM4"), id="KMS+SM4+key"),
    # §1.3: KMSDataEncryption is silently dropped unless the algorithm is KMS.
    pytest.param(("AES256", None, "SM4"), ("AES256", None, None), id="AES256+SM4-dropped"),
    pytest.param(("SM4", None, "SM4"), ("SM4", None, None), id="SM4+SM4-dropped"),
]


@pytest.mark.parametrize("rule,expected", ACCEPTED_RULES)
def test_oss2_put_bucket_encryption_accepted(o2, rule, expected):
    alg, key_id, data = rule
    r = o2.put_bucket_encryption(Rule(alg, key_id, data))
    assert r.status == 200
    assert h.REQUEST_ID_RE.match(r.request_id)

    got = o2.get_bucket_encryption()
    assert got.status == 200
    assert (got.sse_algorithm, got.kms_master_keyid or None, got.kms_data_encryption) == expected

    # §1.6: GetBucketInfo reports the same rule, flat.
    info = o2.get_bucket_info().bucket_encryption_rule
    assert info is not None
    assert (info.sse_algorithm, info.kms_master_keyid or None, info.kms_data_encryption) == expected


REJECTED_RULES = [
    # §1.3 row 1: a key id with a non-KMS algorithm.
    pytest.param(("AES256", "test", None), 400, "InvalidArgument", id="AES256+key-id"),
    pytest.param(("SM4", "test", None), 400, "InvalidArgument", id="SM4+key-id"),
    # §1.3 row 2 / §2.5: unknown algorithm.
    pytest.param(("random", None, None), 400, "InvalidEncryptionAlgorithmError", id="random"),
    pytest.param(("DES", None, None), 400, "InvalidEncryptionAlgorithmError", id="DES"),
    # §1.3 row 8 / §2.5: a data algorithm other than SM4 with KMS.
    pytest.param(("KMS", None, "abc"), 400, "InvalidDataEncryptionAlgorithmError", id="KMS+abc"),
]


@pytest.mark.parametrize("rule,status,code", REJECTED_RULES)
def test_oss2_put_bucket_encryption_rejected(o2, rule, status, code):
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.put_bucket_encryption(Rule(*rule))
    h.assert_oss2_error(ei.value, status, code)
    # nothing was stored
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        o2.get_bucket_encryption()
    assert o2.get_bucket_info().bucket_encryption_rule.sse_algorithm is None


def test_oss2_rejected_rule_keeps_previous_rule(o2):
    o2.put_bucket_encryption(Rule("SM4"))
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.put_bucket_encryption(Rule("random"))
    h.assert_oss2_error(ei.value, 400, "InvalidEncryptionAlgorithmError")
    assert o2.get_bucket_encryption().sse_algorithm == "SM4"


def test_oss2_get_bucket_encryption_never_configured(o2):
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule) as ei:
        o2.get_bucket_encryption()
    h.assert_oss2_error(ei.value, 404, "NoSuchServerSideEncryptionRule")


def test_oss2_delete_bucket_encryption(o2):
    o2.put_bucket_encryption(Rule("KMS", None, "SM4"))
    r = o2.delete_bucket_encryption()
    assert r.status == 204
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule) as ei:
        o2.get_bucket_encryption()
    h.assert_oss2_error(ei.value, 404, "NoSuchServerSideEncryptionRule")
    # §1.6: GetBucketInfo goes back to <SSEAlgorithm>None</SSEAlgorithm>
    assert o2.get_bucket_info().bucket_encryption_rule.sse_algorithm is None
    # the bucket itself is untouched
    o2.put_object("still-here", b"x")
    assert o2.get_object("still-here").read() == b"x"


def test_oss2_delete_bucket_encryption_when_unset(o2):
    # [INFERRED] deleting a rule that does not exist is idempotent (204), like other
    # bucket sub-resources.
    assert o2.delete_bucket_encryption().status == 204
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        o2.get_bucket_encryption()


def test_oss2_put_bucket_encryption_replaces_rule(o2):
    o2.put_bucket_encryption(Rule("KMS", "key-one", "SM4"))
    o2.put_bucket_encryption(Rule("AES256"))
    got = o2.get_bucket_encryption()
    assert (got.sse_algorithm, got.kms_master_keyid, got.kms_data_encryption) == \
        ("AES256", None, None)


def test_oss2_bucket_encryption_missing_bucket(server, sig):
    b = h.oss2_bucket(server, h.unique_name("nobucket"), sig)
    for call in (lambda: b.put_bucket_encryption(Rule("AES256")),
                 b.get_bucket_encryption,
                 b.delete_bucket_encryption):
        with pytest.raises(oss2.exceptions.NoSuchBucket) as ei:
            call()
        h.assert_oss2_error(ei.value, 404, "NoSuchBucket")


def test_bucket_encryption_requires_owner(server, make_bucket):
    # §1.3: caller not authorised -> 403 AccessDenied. Even on a public-read-write bucket,
    # anonymous callers may not read or change the bucket's encryption configuration.
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    body = ("<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>"
            "<SSEAlgorithm>AES256</SSEAlgorithm>"
            "</ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>")
    url = h.path_url(server, name, query="encryption")
    for resp in (requests.put(url, data=body, headers={"Content-Type": "application/xml"}),
                 requests.get(url), requests.delete(url)):
        assert resp.status_code == 403, resp.text
        assert h.parse_error_xml(resp.content)["Code"] == "AccessDenied"
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        h.oss2_bucket(server, name).get_bucket_encryption()


# ---------------------------------------------------------------- v2 SDK

def test_v2_bucket_encryption_cycle(v2, bucket_name):
    # v2 sends Content-MD5 and Content-Type even on GET and DELETE (§1.1).
    r = v2.put_bucket_encryption(oss.PutBucketEncryptionRequest(
        bucket=bucket_name, server_side_encryption_rule=_v2_rule("KMS", "test_wrong", "SM4")))
    assert r.status_code == 200
    assert h.REQUEST_ID_RE.match(r.request_id)
    got = _v2_get_rule(v2, bucket_name)
    assert (got.sse_algorithm, got.kms_master_key_id, got.kms_data_encryption) == \
        ("KMS", "test_wrong", "SM4")

    info = v2.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket_name)).bucket_info
    assert (info.sse_rule.sse_algorithm, info.sse_rule.kms_master_key_id,
            info.sse_rule.kms_data_encryption) == ("KMS", "test_wrong", "SM4")

    r = v2.delete_bucket_encryption(oss.DeleteBucketEncryptionRequest(bucket=bucket_name))
    assert r.status_code == 204
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_bucket_encryption(oss.GetBucketEncryptionRequest(bucket=bucket_name))
    h.assert_v2_error(ei, 404, "NoSuchServerSideEncryptionRule")
    info = v2.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket_name)).bucket_info
    assert info.sse_rule.sse_algorithm == "None"


@pytest.mark.parametrize("rule,expected", [
    (("AES256", None, None), ("AES256", None, None)),
    (("SM4", None, "SM4"), ("SM4", None, None)),
    (("KMS", None, None), ("KMS", None, None)),
    # an empty <KMSMasterKeyID/> means "the default key" (§1.2)
    (("KMS", "", None), ("KMS", None, None)),
    (("KMS", "123", None), ("KMS", "123", None)),
])
def test_v2_put_bucket_encryption_accepted(v2, bucket_name, rule, expected):
    v2.put_bucket_encryption(oss.PutBucketEncryptionRequest(
        bucket=bucket_name, server_side_encryption_rule=_v2_rule(*rule)))
    got = _v2_get_rule(v2, bucket_name)
    assert (got.sse_algorithm, got.kms_master_key_id or None, got.kms_data_encryption or None) \
        == expected


@pytest.mark.parametrize("rule,code", [
    (("AES256", "test", None), "InvalidArgument"),
    (("random", None, None), "InvalidEncryptionAlgorithmError"),
    (("KMS", None, "abc"), "InvalidDataEncryptionAlgorithmError"),
])
def test_v2_put_bucket_encryption_rejected(v2, bucket_name, rule, code):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.put_bucket_encryption(oss.PutBucketEncryptionRequest(
            bucket=bucket_name, server_side_encryption_rule=_v2_rule(*rule)))
    h.assert_v2_error(ei, 400, code)
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_bucket_encryption(oss.GetBucketEncryptionRequest(bucket=bucket_name))
    h.assert_v2_error(ei, 404, "NoSuchServerSideEncryptionRule")


def test_v2_get_bucket_encryption_never_configured(v2, bucket_name):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_bucket_encryption(oss.GetBucketEncryptionRequest(bucket=bucket_name))
    h.assert_v2_error(ei, 404, "NoSuchServerSideEncryptionRule")


def test_v2_bucket_info_reports_literal_none(v2, bucket_name):
    # §1.6: always emit the element, with the literal None when nothing is configured.
    info = v2.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket_name)).bucket_info
    assert info.sse_rule is not None
    assert info.sse_rule.sse_algorithm == "None"
    assert not info.sse_rule.kms_master_key_id
    assert not info.sse_rule.kms_data_encryption


def test_bucket_info_rule_is_flat(server, o2_admin, bucket_name):
    # §1.6: no ApplyServerSideEncryptionByDefault wrapper inside GetBucketInfo. oss2 reads
    # Bucket/ServerSideEncryptionRule/SSEAlgorithm directly (and would raise on a wrapper).
    o2_admin.put_bucket_encryption(Rule("KMS", "flat-key", "SM4"))
    rule = o2_admin.get_bucket_info().bucket_encryption_rule
    assert (rule.sse_algorithm, rule.kms_master_keyid, rule.kms_data_encryption) == \
        ("KMS", "flat-key", "SM4")


# ---------------------------------------------------------------- §1.5 PutBucket headers

PUT_BUCKET_HEADERS = [
    pytest.param({h.SSE_HDR: "KMS", h.SSE_DATA_HDR: "SM4",
                  h.SSE_KEY_HDR: "9468da86-3509-4f8d-a61e-6eab1eac0001"},
                 ("KMS", "9468da86-3509-4f8d-a61e-6eab1eac0001", "SM4"), id="KMS+SM4+key"),
    pytest.param({h.SSE_HDR: "KMS"}, ("KMS", None, None), id="KMS"),
    pytest.param({h.SSE_HDR: "SM4"}, ("SM4", None, None), id="SM4"),
    pytest.param({h.SSE_HDR: "AES256"}, ("AES256", None, None), id="AES256"),
]


@pytest.mark.parametrize("headers,expected", PUT_BUCKET_HEADERS)
def test_oss2_create_bucket_with_sse_headers(server, sig, fresh_name, headers, expected):
    name = fresh_name()
    b = h.oss2_bucket(server, name, sig)
    r = b.create_bucket(oss2.BUCKET_ACL_PRIVATE,
                        oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA),
                        headers=headers)
    assert r.status == 200
    info = b.get_bucket_info()
    assert info.storage_class == "IA"
    rule = info.bucket_encryption_rule
    assert (rule.sse_algorithm, rule.kms_master_keyid or None, rule.kms_data_encryption) == expected
    got = b.get_bucket_encryption()
    assert (got.sse_algorithm, got.kms_master_keyid or None, got.kms_data_encryption) == expected


def test_v2_put_bucket_with_sse_headers(server, v2, fresh_name):
    name = fresh_name()
    r = v2.put_bucket(oss.PutBucketRequest(bucket=name, acl="private",
                                           headers={h.SSE_HDR: "KMS", h.SSE_DATA_HDR: "SM4"}))
    assert r.status_code == 200
    info = v2.get_bucket_info(oss.GetBucketInfoRequest(bucket=name)).bucket_info
    assert info.sse_rule.sse_algorithm == "KMS"
    assert info.sse_rule.kms_data_encryption == "SM4"
    assert not info.sse_rule.kms_master_key_id
    # and objects uploaded without SSE headers get it (§2.2)
    data = h.rand_bytes(1000)
    v2.put_object(oss.PutObjectRequest(bucket=name, key="o", body=data))
    g = v2.get_object(oss.GetObjectRequest(bucket=name, key="o"))
    assert g.body.read() == data
    h.assert_sse_v2(g, "KMS+SM4")


def test_create_bucket_without_sse_headers_has_no_rule(server, sig, fresh_name):
    name = fresh_name()
    b = h.oss2_bucket(server, name, sig)
    b.create_bucket()
    assert b.get_bucket_info().bucket_encryption_rule.sse_algorithm is None
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        b.get_bucket_encryption()


def test_create_bucket_with_invalid_sse_header(server, fresh_name):
    # [INFERRED] the PutBucket headers are validated like the §1.3 rule: an unknown algorithm
    # is 400 InvalidEncryptionAlgorithmError and no bucket is created.
    name = fresh_name()
    b = h.oss2_bucket(server, name)
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.create_bucket(headers={h.SSE_HDR: "DES"})
    h.assert_oss2_error(ei.value, 400, "InvalidEncryptionAlgorithmError")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        b.get_bucket_info()


def test_bucket_rule_with_unknown_key_fails_uploads(o2):
    # §1.3: the key id is not validated at Put time; [INFERRED] the failure surfaces when an
    # upload needs the key: 404 KeyNotFound (§2.5), and nothing is stored.
    o2.put_bucket_encryption(Rule("KMS", str(uuid.uuid4())))
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.put_object("o", b"data")
    h.assert_oss2_error(ei.value, 404, "KeyNotFound")
    assert o2.object_exists("o") is False
    # an explicit object-level method still works (§2.2: object header beats the default)
    r = o2.put_object("o", b"data", headers={h.SSE_HDR: "AES256"})
    h.assert_sse(r.headers, "AES256")
