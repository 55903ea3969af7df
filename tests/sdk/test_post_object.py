"""PostObject (browser form upload), reference §2.3 and §3.6.

Neither oss2 nor alibabacloud-oss-v2 has a PostObject call, so the forms are posted with
`requests` and signed here the way the OSS documentation describes:

* V1: policy = Base64(UTF-8 JSON); Signature = Base64(HMAC-SHA1(secret, policy));
* V4: x-oss-signature = HexLower(HMAC-SHA256(kSigning, policy)) with kSigning derived from
  "aliyun_v4" + secret, the date, the region, "oss" and "aliyun_v4_request", and the policy's
  conditions naming x-oss-signature-version, x-oss-credential and x-oss-date.

What was uploaded is then read back with the official SDKs.
"""
import base64
import datetime
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET

import pytest
import requests

import sdkhelpers as h

SSE = "x-oss-server-side-encryption"
SSE_DATA = "x-oss-server-side-data-encryption"
SSE_KEY = "x-oss-server-side-encryption-key-id"


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def policy_json(conditions, expires_in=3600):
    expiration = (_utcnow() + datetime.timedelta(seconds=expires_in)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    return json.dumps({"expiration": expiration, "conditions": conditions})


def v1_fields(server, conditions, expires_in=3600, secret=None):
    policy = base64.b64encode(policy_json(conditions, expires_in).encode()).decode()
    key = (secret or server.access_key_secret).encode()
    signature = base64.b64encode(hmac.new(key, policy.encode(), hashlib.sha1).digest()).decode()
    return [("OSSAccessKeyId", server.access_key_id), ("policy", policy),
            ("Signature", signature)]


def _hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def v4_fields(server, conditions, expires_in=3600, secret=None):
    now = _utcnow()
    date = now.strftime("%Y%m%d")
    datetime_ = now.strftime("%Y%m%dT%H%M%SZ")
    credential = "%s/%s/%s/oss/aliyun_v4_request" % (server.access_key_id, date, h.REGION)
    conditions = [
        {"x-oss-signature-version": "OSS4-HMAC-SHA256"},
        {"x-oss-credential": credential},
        {"x-oss-date": datetime_},
    ] + list(conditions)
    policy = base64.b64encode(policy_json(conditions, expires_in).encode()).decode()
    key = ("aliyun_v4" + (secret or server.access_key_secret)).encode()
    for part in (date, h.REGION, "oss", "aliyun_v4_request"):
        key = _hmac256(key, part)
    signature = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    return [("x-oss-signature-version", "OSS4-HMAC-SHA256"), ("x-oss-credential", credential),
            ("x-oss-date", datetime_), ("policy", policy), ("x-oss-signature", signature)]


def signed_fields(server, sig, conditions, **kw):
    return (v1_fields if sig == "v1" else v4_fields)(server, conditions, **kw)


def post_form(server, bucket, fields, data=b"", filename="upload.bin",
              content_type="application/octet-stream", with_file=True):
    """POST / on the bucket: `fields` in order, then the file part (requests puts it last)."""
    files = {"file": (filename, data, content_type)} if with_file else None
    if not with_file:
        # requests only sends multipart/form-data when there are files; add a harmless
        # non-file part so the form is still multipart.
        files = {"note": (None, "no file here")}
    return requests.post(h.path_url(server, bucket), data=fields, files=files, timeout=60)


def assert_error(resp, status, code):
    assert resp.status_code == status, "%s %s" % (resp.status_code, resp.text)
    err = h.parse_error_xml(resp.content)
    assert err["Code"] == code, err
    assert h.REQUEST_ID_RE.match(resp.headers["x-oss-request-id"])
    assert h.EC_RE.match(resp.headers.get("x-oss-ec", "")), resp.headers
    return err


def test_v1_form_default_204_then_read_with_sdks(server, bucket_name, o2_admin):
    data = h.rand_bytes(150 * h.KB)
    fields = v1_fields(server, [{"bucket": bucket_name}, ["starts-with", "$key", "up/"]]) + [
        ("key", "up/a.bin"),
        ("Cache-Control", "no-cache"),
        ("Content-Disposition", "attachment; filename=a.bin"),
        ("x-oss-meta-owner", "alice"),
    ]
    r = post_form(server, bucket_name, fields, data, content_type="image/png")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert r.headers["ETag"] == h.quoted_etag(data)
    assert int(r.headers["x-oss-hash-crc64ecma"]) == h.crc64(data)
    assert h.REQUEST_ID_RE.match(r.headers["x-oss-request-id"])

    g = o2_admin.get_object("up/a.bin")
    assert g.read() == data
    assert g.headers["Content-Type"] == "image/png"
    assert g.headers["Cache-Control"] == "no-cache"
    assert g.headers["Content-Disposition"] == "attachment; filename=a.bin"
    assert g.headers["x-oss-meta-owner"] == "alice"
    assert g.server_crc == h.crc64(data)

    v2 = h.v2_client(server, "v4")
    res = v2.head_object(h.oss.HeadObjectRequest(bucket=bucket_name, key="up/a.bin"))
    assert res.content_length == len(data)
    assert res.etag == h.quoted_etag(data)


@pytest.mark.parametrize("status", ["200", "201", "204"])
def test_signed_form_success_statuses(server, bucket_name, o2_admin, sig, status):
    data = b"hello form " + status.encode()
    key = "st/%s-%s" % (sig, status)
    fields = signed_fields(server, sig, [["eq", "$success_action_status", status]]) + [
        ("key", key), ("success_action_status", status)]
    r = post_form(server, bucket_name, fields, data)
    assert r.status_code == int(status), r.text
    assert r.headers["ETag"] == h.quoted_etag(data)
    if status == "201":
        root = ET.fromstring(r.content)
        assert root.tag == "PostResponse"
        got = {child.tag: child.text for child in root}
        assert got["Bucket"] == bucket_name
        assert got["Key"] == key
        assert got["ETag"] == h.quoted_etag(data)
        assert got["Location"].endswith("/%s/%s" % (bucket_name, key))
    else:
        assert r.content == b""
    assert o2_admin.get_object(key).read() == data


def test_filename_substitution(server, bucket_name, o2_admin, sig):
    fields = signed_fields(server, sig, [["starts-with", "$key", "user/eric/"]]) + [
        ("key", "user/eric/${filename}")]
    r = post_form(server, bucket_name, fields, b"pixels", filename="cat.jpg",
                  content_type="image/jpeg")
    assert r.status_code == 204, r.text
    g = o2_admin.get_object("user/eric/cat.jpg")
    assert g.read() == b"pixels"
    assert g.headers["Content-Type"] == "image/jpeg"


def _sse_of(headers):
    return (headers.get(SSE), headers.get(SSE_DATA), headers.get(SSE_KEY))


@pytest.mark.parametrize("alg,data_alg", [("AES256", None), ("SM4", None), ("KMS", None),
                                          ("KMS", "SM4")])
def test_sse_form_fields(server, bucket_name, o2_admin, sig, alg, data_alg):
    # §2.3: the SSE settings of PostObject are form fields, named like the headers.
    data = h.rand_bytes(70 * h.KB)
    key = "sse/%s-%s-%s" % (sig, alg, data_alg)
    extra = [("key", key), (SSE, alg)]
    if data_alg:
        extra.append((SSE_DATA, data_alg))
    r = post_form(server, bucket_name, signed_fields(server, sig, []) + extra, data)
    assert r.status_code == 204, r.text
    got = _sse_of(r.headers)
    assert got[0] == alg and got[1] == data_alg, got
    if alg == "KMS":
        assert got[2], "KMS uploads report the key id"
    else:
        assert got[2] is None
    assert r.headers["ETag"] == h.quoted_etag(data)

    g = o2_admin.get_object(key)
    assert g.read() == data
    assert _sse_of(g.headers) == got
    hd = o2_admin.head_object(key)
    assert _sse_of(hd.headers) == got


def test_sse_form_explicit_kms_key_id(server, bucket_name, o2_admin):
    first = post_form(server, bucket_name,
                      v1_fields(server, []) + [("key", "kms/default"), (SSE, "KMS")], b"a")
    assert first.status_code == 204, first.text
    key_id = first.headers[SSE_KEY]
    r = post_form(server, bucket_name,
                  v1_fields(server, []) + [("key", "kms/explicit"), (SSE, "KMS"),
                                           (SSE_KEY, key_id)], b"b")
    assert r.status_code == 204, r.text
    assert r.headers[SSE_KEY] == key_id
    assert o2_admin.head_object("kms/explicit").headers[SSE_KEY] == key_id


def test_sse_form_invalid_algorithm(server, bucket_name, o2_admin):
    r = post_form(server, bucket_name, v1_fields(server, []) + [("key", "bad"), (SSE, "DES")],
                  b"x")
    assert_error(r, 400, "InvalidEncryptionAlgorithmError")
    assert o2_admin.object_exists("bad") is False


def test_policy_failures(server, bucket_name, o2_admin, sig):
    # A condition that fails.
    fields = signed_fields(server, sig, [["starts-with", "$key", "allowed/"]]) + [
        ("key", "denied/x")]
    err = assert_error(post_form(server, bucket_name, fields, b"x"), 403, "AccessDenied")
    assert "Policy Condition failed" in err["Message"]

    # Expired.
    fields = signed_fields(server, sig, [], expires_in=-60) + [("key", "late")]
    err = assert_error(post_form(server, bucket_name, fields, b"x"), 403, "AccessDenied")
    assert err["Message"] == "Invalid according to Policy: Policy expired."

    # Signed with the wrong secret.
    fields = signed_fields(server, sig, [], secret="not-the-secret") + [("key", "forged")]
    assert_error(post_form(server, bucket_name, fields, b"x"), 403, "SignatureDoesNotMatch")

    # Not JSON at all.
    fields = [(n, base64.b64encode(b"{nope").decode() if n == "policy" else v)
              for n, v in signed_fields(server, sig, [])] + [("key", "bad")]
    assert_error(post_form(server, bucket_name, fields, b"x"), 400, "InvalidPolicyDocument")

    for key in ("denied/x", "late", "forged", "bad"):
        assert o2_admin.object_exists(key) is False


def test_content_length_range(server, bucket_name, o2_admin):
    fields = v1_fields(server, [["content-length-range", 10, 100]])
    r = post_form(server, bucket_name, fields + [("key", "ok")], b"x" * 100)
    assert r.status_code == 204, r.text
    assert_error(post_form(server, bucket_name, fields + [("key", "big")], b"x" * 101),
                 400, "EntityTooLarge")
    assert_error(post_form(server, bucket_name, fields + [("key", "small")], b"x" * 9),
                 400, "EntityTooSmall")
    assert o2_admin.object_exists("big") is False
    assert o2_admin.object_exists("small") is False


def test_anonymous_forms(server, make_bucket):
    private = make_bucket()
    public = make_bucket(acl=h.oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    fields = [("key", "anon.txt")]
    assert_error(post_form(server, private, fields, b"anon"), 403, "AccessDenied")
    r = post_form(server, public, fields, b"anon")
    assert r.status_code == 204, r.text
    assert h.oss2_bucket(server, public).get_object("anon.txt").read() == b"anon"
    # A policy without its signature is not anonymous: 400 InvalidArgument (§3.6).
    fields = [("key", "half"), ("policy", base64.b64encode(policy_json([]).encode()).decode())]
    assert_error(post_form(server, public, fields, b"x"), 400, "InvalidArgument")


def test_malformed_forms(server, bucket_name):
    fields = v1_fields(server, []) + [("key", "nofile")]
    assert_error(post_form(server, bucket_name, fields, with_file=False), 400,
                 "MalformedPOSTRequest")
    r = requests.post(h.path_url(server, bucket_name), data={"key": "x"}, timeout=30)
    assert_error(r, 400, "RequestIsNotMultiPartContent")


@pytest.mark.parametrize("field,value,code", [
    ("callback", base64.b64encode(b'{"callbackUrl":"http://127.0.0.1:1/"}').decode(),
     "NotImplemented"),
    ("x-oss-tagging", "project=coffer", "NotImplemented"),
    ("x-oss-tagging", "a=b=c", "InvalidArgument"),
])
def test_fields_coffer_does_not_act_on_are_refused(server, bucket_name, o2_admin, field,
                                                   value, code):
    """A form asking for a callback or tags must not get a 204 that did neither."""
    r = post_form(server, bucket_name, v1_fields(server, []) + [("key", "cb"), (field, value)],
                  b"x")
    assert_error(r, 400, code)
    assert o2_admin.object_exists("cb") is False
