"""Routing is an allow-list: every request reaches the operation it names, or is answered
NotImplemented before anything is read or written.

The walk sends every OSS sub-resource name (the SDKs' signed sub-resource lists and the
names of the OSS API reference, oss-api.md §3.1) on every method, against the service, an
empty bucket and an object, through alibabacloud-oss-v2's public `invoke_operation` (V4
signs every query parameter, so the server sees exactly what the SDK sent). Requests that
name an operation Coffer serves are left to the other test files; every other one must get
400 NotImplemented, and the bucket, its configuration and its objects must be exactly as
they were.
"""
import base64
import json

import alibabacloud_oss_v2 as oss
import oss2
import pytest

import sdkhelpers as h

# oss-api.md §3.1 (oss2, py-v2, Go v2, Java signed sub-resources) and the OSS API
# reference's sub-resources, kept here independently of the server's own table.
SUBRESOURCES = """
acl append asyncFetch bucketArchiveDirectRead bucketInfo callback callback-var cname comp
continuation-token cors delete encryption endTime group httpsConfig img inventory inventoryId
lifecycle link live location logging metaQuery objectInfo objectMeta partNumber policy position
publicAccessBlock qos qosInfo redundancyTransition referer regionList replication
replicationLocation replicationProgress requestPayment resourceGroup resourcePool
resourcePoolBuckets resourcePoolInfo qosRequester requesterQosInfo response-cache-control
response-content-disposition response-content-encoding response-content-language
response-content-type response-expires restore sequential startTime stat status
style styleName symlink tagging transferAcceleration uploadId uploads versionId versioning
versions vod website worm wormExtend wormId x-oss-ac-forward-allow x-oss-ac-source-ip
x-oss-ac-subnet-mask x-oss-ac-vpc-id x-oss-async-process x-oss-process
x-oss-target-redundancy-type x-oss-redundancy-transition-taskid x-oss-traffic-limit
x-oss-write-get-object-response accessPoint accessPointPolicy x-oss-access-point-name cloudboxes
udf vpcip vip x-oss-dir rename seal policyStatus processConf
retention legalHold regions overwriteConfig userDefinedLogFieldsConfig accessmonitor
archiveDirectRead dataAccelerator objectProcessConfiguration accessPointForObjectProcess
""".split()

METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE"]

# (method, target, sub-resource) -> the operation Coffer serves for it. Everything else
# carrying a sub-resource is NotImplemented.
SERVED = {
    ("GET", "bucket", "acl"): "GetBucketAcl",
    ("PUT", "bucket", "acl"): "PutBucketAcl",
    ("GET", "bucket", "bucketInfo"): "GetBucketInfo",
    ("GET", "bucket", "location"): "GetBucketLocation",
    ("GET", "bucket", "stat"): "GetBucketStat",
    ("GET", "bucket", "encryption"): "GetBucketEncryption",
    ("PUT", "bucket", "encryption"): "PutBucketEncryption",
    ("DELETE", "bucket", "encryption"): "DeleteBucketEncryption",
    ("GET", "bucket", "policy"): "GetBucketPolicy",
    ("PUT", "bucket", "policy"): "PutBucketPolicy",
    ("DELETE", "bucket", "policy"): "DeleteBucketPolicy",
    ("GET", "bucket", "uploads"): "ListMultipartUploads",
    ("POST", "bucket", "delete"): "DeleteMultipleObjects",
    ("GET", "bucket", "continuation-token"): "ListObjects",
    ("GET", "object", "acl"): "GetObjectAcl",
    ("PUT", "object", "acl"): "PutObjectAcl",
    ("HEAD", "object", "objectMeta"): "GetObjectMeta",
    ("POST", "object", "uploads"): "InitiateMultipartUpload",
    ("POST", "object", "append"): "AppendObject",
    ("GET", "object", "uploadId"): "ListParts",
    ("PUT", "object", "uploadId"): "UploadPart",
    ("POST", "object", "uploadId"): "CompleteMultipartUpload",
    ("DELETE", "object", "uploadId"): "AbortMultipartUpload",
}
for _name in ("response-content-type", "response-content-language", "response-expires",
              "response-cache-control", "response-content-disposition",
              "response-content-encoding"):
    SERVED[("GET", "object", _name)] = "GetObject"
    SERVED[("HEAD", "object", _name)] = "HeadObject"

POLICY = json.dumps({
    "Version": "1",
    "Statement": [{"Effect": "Deny", "Action": ["oss:PutObject"], "Principal": ["*"],
                   "Resource": ["acs:oss:*:*:%s/never/*"]}],
})
DOC = b"precious bytes that no routing mistake may overwrite"


def _invoke(client, method, bucket=None, key=None, params=None, headers=None, body=None):
    """Sends one request; returns (status, error code or None)."""
    op = oss.OperationInput(op_name="RoutingWalk", method=method, bucket=bucket, key=key,
                            parameters=params or {}, headers=headers or {}, body=body)
    try:
        out = client.invoke_operation(op)
        return out.status_code, None
    except oss.exceptions.OperationError as e:
        se = e.unwrap()
        if isinstance(se, oss.exceptions.ServiceError):
            return se.status_code, se.code
        raise


def _state(admin: oss2.Bucket, other: oss2.Bucket):
    """Everything a misrouted request could have changed."""
    objects = [(o.key, o.etag, o.size, o.last_modified)
               for o in admin.list_objects(max_keys=1000).object_list]
    info = admin.get_bucket_info()
    try:
        policy = admin.get_bucket_policy().policy
    except oss2.exceptions.NoSuchBucketPolicy:
        policy = None
    doc = admin.get_object("doc.txt").read()
    doc_acl = admin.get_object_acl("doc.txt").acl
    uploads = [u.upload_id for u in admin.list_multipart_uploads().upload_list]
    empty = other.get_bucket_info()
    empty_objects = [o.key for o in other.list_objects().object_list]
    return (objects, info.acl.grant, info.storage_class, info.bucket_encryption_rule.sse_algorithm
            if info.bucket_encryption_rule else None, policy, doc, doc_acl, uploads,
            empty.name, empty.acl.grant, empty_objects)


@pytest.fixture(scope="module")
def walk_buckets(server, module_bucket):
    full, empty = module_bucket(prefix="route"), module_bucket(prefix="route-empty")
    admin = h.oss2_bucket(server, full, "v1")
    admin.put_object("doc.txt", DOC)
    admin.put_bucket_policy(POLICY % full)
    return full, empty


@pytest.mark.parametrize("target", ["service", "bucket", "object"])
def test_every_sub_resource_reaches_its_operation_or_not_implemented(server, walk_buckets,
                                                                     target):
    full, empty = walk_buckets
    admin = h.oss2_bucket(server, full, "v1")
    other = h.oss2_bucket(server, empty, "v1")
    client = h.v2_client(server, "v4")
    before = _state(admin, other)
    walked = 0
    for name in SUBRESOURCES:
        for method in METHODS:
            if (method, target, name) in SERVED:
                continue
            if target == "service":
                where = dict()
            elif target == "bucket":
                where = dict(bucket=empty)
            else:
                where = dict(bucket=full, key="doc.txt")
            body = b"<Configuration><Status>Enabled</Status></Configuration>" \
                if method in ("PUT", "POST") else None
            status, code = _invoke(client, method, params={name: ""}, body=body, **where)
            assert (status, code) == (400, "NotImplemented"), (method, target, name)
            walked += 1
        if target != "service":
            assert _state(admin, other) == before, "state changed after ?%s" % name
    assert walked > 300
    assert _state(admin, other) == before


def _oss2_do(server, method, bucket, key, params, body):
    """The same through oss2's own request path and signer (V1 signs only the
    sub-resources oss2 knows, so this also checks the server agrees on which)."""
    b = h.oss2_bucket(server, bucket, "v1")
    try:
        b._do(method, bucket, key or "", params=params, data=body)
        return 200, None
    except oss2.exceptions.ServerError as e:
        return e.status, e.code


# The cases the issue found destroying or leaking data, through both SDKs' own signing.
@pytest.mark.parametrize("method,name,target", [
    ("PUT", "retention", "doc.txt"),
    ("PUT", "legalHold", "doc.txt"),
    ("PUT", "live", "chan1"),
    ("GET", "live", "doc.txt"),
    ("DELETE", "live", "doc.txt"),
    ("DELETE", "overwriteConfig", None),
    ("DELETE", "userDefinedLogFieldsConfig", None),
    ("DELETE", "accessPoint", None),
    ("PUT", "accessmonitor", None),
    ("GET", "accessmonitor", None),
    ("PUT", "httpsConfig", None),
    ("PUT", "overwriteConfig", None),
    ("PUT", "archiveDirectRead", None),
    ("POST", "redundancyTransition", None),
])
@pytest.mark.parametrize("sdk", ["oss2-v1", "v2-v4"])
def test_reported_misroutes_change_nothing(server, walk_buckets, method, name, target, sdk):
    full, empty = walk_buckets
    admin = h.oss2_bucket(server, full, "v1")
    other = h.oss2_bucket(server, empty, "v1")
    before = _state(admin, other)
    bucket = full if target else empty
    body = b"<Retention><Mode>GOVERNANCE</Mode></Retention>" if method in ("PUT", "POST") \
        else None
    if sdk == "oss2-v1":
        got = _oss2_do(server, method, bucket, target, {name: ""}, body)
    else:
        got = _invoke(h.v2_client(server, "v4"), method, bucket=bucket, key=target,
                      params={name: ""}, body=body)
    assert got == (400, "NotImplemented")
    assert _state(admin, other) == before


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_policy_callback_does_not_touch_the_bucket_policy(server, walk_buckets, method):
    full, empty = walk_buckets
    admin = h.oss2_bucket(server, full, "v1")
    before = admin.get_bucket_policy().policy
    client = h.v2_client(server, "v4")
    body = b'{"callbackUrl":"http://127.0.0.1/"}' if method == "PUT" else None
    status, code = _invoke(client, method, bucket=full,
                           params={"policy": "", "comp": "callback"}, body=body)
    assert (status, code) == (400, "NotImplemented")
    assert admin.get_bucket_policy().policy == before


@pytest.mark.parametrize("name", ["regions", "cloudboxes", "resourcePool"])
def test_service_sub_resources_are_not_listings(server, name):
    client = h.v2_client(server, "v4")
    assert _invoke(client, "GET", params={name: ""}) == (400, "NotImplemented")


def test_unknown_parameter_on_a_write_is_refused_but_ignored_on_a_read(server, walk_buckets):
    full, empty = walk_buckets
    admin = h.oss2_bucket(server, full, "v1")
    client = h.v2_client(server, "v4")
    assert _invoke(client, "PUT", bucket=full, key="doc.txt", params={"someNewFeature": ""},
                   body=b"x") == (400, "NotImplemented")
    assert admin.get_object("doc.txt").read() == DOC
    # A cache buster on a read is ignored, as OSS ignores names it does not define.
    assert _invoke(client, "GET", bucket=full, key="doc.txt", params={"t": "12345"}) == \
        (200, None)


# ------------------------------------------------------------ authentication comes first

@pytest.mark.parametrize("sig", ["v1", "v4"])
def test_bad_access_key_is_reported_before_not_implemented(server, walk_buckets, sig):
    full, _ = walk_buckets
    client = h.v2_client(server, sig, ak="LTAInotakey0000000000", sk="wrong")
    for method, params in [("PUT", {"retention": ""}), ("GET", {"cors": ""}),
                           ("DELETE", {"overwriteConfig": ""})]:
        status, code = _invoke(client, method, bucket=full, key="doc.txt" if method == "PUT"
                               else None, params=params, body=b"x" if method == "PUT" else None)
        assert (status, code) == (403, "InvalidAccessKeyId"), (method, params)


@pytest.mark.parametrize("sig", ["v1", "v4"])
def test_bad_access_key_on_a_missing_bucket_gets_no_such_bucket(server, sig):
    """OSS answers NoSuchBucket (docs/access-control.md says why Coffer does too), so that
    SDK helpers such as is_bucket_exist work."""
    missing = h.unique_name("missing")
    bad = h.v2_client(server, sig, ak="LTAInotakey0000000000", sk="wrong")
    assert _invoke(bad, "GET", bucket=missing, params={"acl": ""}) == (404, "NoSuchBucket")
    assert bad.is_bucket_exist(missing) is False
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        h.oss2_bucket(server, missing, sig, ak="LTAInotakey0000000000",
                      sk="wrong").get_bucket_info()
    # Creating a bucket with bad credentials is refused for the credentials.
    with pytest.raises(oss2.exceptions.ServerError) as e:
        h.oss2_bucket(server, missing, sig, ak="LTAInotakey0000000000",
                      sk="wrong").create_bucket()
    assert (e.value.status, e.value.code) == (403, "InvalidAccessKeyId")
    assert h.v2_client(server, sig).is_bucket_exist(missing) is False


# ------------------------------------------------------------ headers Coffer does not act on

@pytest.mark.parametrize("header,value", [
    ("x-oss-traffic-limit", "819200"),
    ("x-oss-callback", base64.b64encode(b'{"callbackUrl":"http://127.0.0.1:1/"}').decode()),
    ("x-oss-tagging", "a=1&b=2"),
])
def test_ignored_headers_are_refused_and_nothing_is_written(o2, header, value):
    o2.put_object("kept.txt", b"original")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        o2.put_object("kept.txt", b"replacement", headers={header: value})
    assert (e.value.status, e.value.code) == (400, "NotImplemented")
    assert o2.get_object("kept.txt").read() == b"original"
    with pytest.raises(oss2.exceptions.ServerError) as e:
        o2.put_object("new.txt", b"x", headers={header: value})
    assert not o2.object_exists("new.txt")


def test_traffic_limit_on_a_download_is_refused(o2):
    o2.put_object("dl.txt", b"data")
    with pytest.raises(oss2.exceptions.ServerError) as e:
        o2.get_object("dl.txt", headers={"x-oss-traffic-limit": "819200"})
    assert (e.value.status, e.value.code) == (400, "NotImplemented")


def test_tagging_through_the_v2_sdk_is_refused(v2, bucket_name):
    with pytest.raises(oss.exceptions.OperationError) as e:
        v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="t.txt", body=b"x",
                                           tagging="project=coffer"))
    h.assert_v2_error(e, 400, "NotImplemented")
    assert not v2.is_object_exist(bucket_name, "t.txt")


@pytest.mark.parametrize("value,ec", [
    ("aa=bb=cc", "0010-00000219"),
    ("&".join("k%d=v" % i for i in range(11)), "0010-00000217"),
    ("k=v&k=w", "0010-00000217"),
    ("k=%3Cscript%3E", "0010-00000217"),
    ("k" * 129 + "=v", "0010-00000217"),
])
def test_malformed_tags_get_oss_400(o2, value, ec):
    with pytest.raises(oss2.exceptions.ServerError) as e:
        o2.put_object("t.txt", b"x", headers={"x-oss-tagging": value})
    assert (e.value.status, e.value.code) == (400, "InvalidArgument")
    assert e.value.ec == ec
    assert not o2.object_exists("t.txt")
