"""Bucket operations: PutBucket, DeleteBucket, ListBuckets, GetBucketInfo, GetBucketLocation,
GetBucketStat, Put/GetBucketAcl, InvalidBucketName (reference §4.3, §5.2, §5.3, §1.6)."""
import re

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

ISO8601_MS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# ---------------------------------------------------------------- PutBucket / GetBucketInfo

def test_oss2_create_bucket_defaults(server, sig, fresh_name):
    name = fresh_name()
    b = h.oss2_bucket(server, name, sig)
    r = b.create_bucket()
    assert r.status == 200
    assert h.REQUEST_ID_RE.match(r.request_id)

    info = b.get_bucket_info()
    assert info.status == 200
    assert info.name == name
    assert info.location == h.LOCATION
    assert info.storage_class == "Standard"
    assert info.acl.grant == oss2.BUCKET_ACL_PRIVATE
    assert info.owner.id, "Owner/ID must be present"
    assert info.extranet_endpoint and info.intranet_endpoint
    assert ISO8601_MS_RE.match(info.creation_date), info.creation_date
    # §1.6: a bucket without default encryption reports <SSEAlgorithm>None</SSEAlgorithm>,
    # which oss2 maps to a rule object whose sse_algorithm is None.
    assert info.bucket_encryption_rule is not None
    assert info.bucket_encryption_rule.sse_algorithm is None


def test_oss2_create_bucket_with_acl_and_storage_class(server, sig, fresh_name):
    name = fresh_name()
    b = h.oss2_bucket(server, name, sig)
    b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ,
                    oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA))
    info = b.get_bucket_info()
    assert info.storage_class == "IA"
    assert info.acl.grant == "public-read"
    assert b.get_bucket_acl().acl == "public-read"


def test_v2_put_bucket_with_acl_and_storage_class(server, v2, fresh_name):
    name = fresh_name()
    r = v2.put_bucket(oss.PutBucketRequest(
        bucket=name, acl="public-read-write",
        create_bucket_configuration=oss.CreateBucketConfiguration(storage_class="IA")))
    assert r.status_code == 200
    assert h.REQUEST_ID_RE.match(r.request_id)

    info = v2.get_bucket_info(oss.GetBucketInfoRequest(bucket=name)).bucket_info
    assert info.name == name
    assert info.location == h.LOCATION
    assert info.storage_class == "IA"
    assert info.acl == "public-read-write"
    assert info.owner is not None and info.owner.id
    assert info.creation_date is not None
    assert info.extranet_endpoint
    acl = v2.get_bucket_acl(oss.GetBucketAclRequest(bucket=name))
    assert acl.acl == "public-read-write"
    assert acl.owner is not None and acl.owner.id


def test_put_bucket_twice_by_owner_is_ok(server, sig, fresh_name):
    # §5.2: "the first call creates the bucket and subsequent calls modify its metadata such
    # as the ACL" -- not an error for the owner.
    name = fresh_name()
    b = h.oss2_bucket(server, name, sig)
    b.create_bucket(oss2.BUCKET_ACL_PRIVATE)
    r = b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
    assert r.status == 200
    assert b.get_bucket_acl().acl == "public-read"


# ---------------------------------------------------------------- DeleteBucket

def test_oss2_delete_bucket(server, sig, fresh_name):
    name = fresh_name()
    b = h.oss2_bucket(server, name, sig)
    b.create_bucket()
    r = b.delete_bucket()
    assert r.status == 204
    with pytest.raises(oss2.exceptions.NoSuchBucket) as ei:
        b.get_bucket_info()
    h.assert_oss2_error(ei.value, 404, "NoSuchBucket")
    with pytest.raises(oss2.exceptions.NoSuchBucket) as ei:
        b.delete_bucket()
    h.assert_oss2_error(ei.value, 404, "NoSuchBucket")


def test_v2_delete_bucket(server, v2, fresh_name):
    name = fresh_name()
    v2.put_bucket(oss.PutBucketRequest(bucket=name))
    r = v2.delete_bucket(oss.DeleteBucketRequest(bucket=name))
    assert r.status_code == 204
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.delete_bucket(oss.DeleteBucketRequest(bucket=name))
    h.assert_v2_error(ei, 404, "NoSuchBucket")
    assert v2.is_bucket_exist(name) is False


def test_delete_non_empty_bucket(server, sig, fresh_name):
    name = fresh_name()
    b = h.oss2_bucket(server, name, sig)
    b.create_bucket()
    b.put_object("obj", b"x")
    with pytest.raises(oss2.exceptions.BucketNotEmpty) as ei:
        b.delete_bucket()
    h.assert_oss2_error(ei.value, 409, "BucketNotEmpty")
    b.delete_object("obj")
    assert b.delete_bucket().status == 204


def test_delete_bucket_with_incomplete_upload_is_not_empty(server, sig, fresh_name):
    # §4.3 BucketNotEmpty: "objects, incomplete uploads or live channels remain".
    name = fresh_name()
    b = h.oss2_bucket(server, name, sig)
    b.create_bucket()
    upload_id = b.init_multipart_upload("pending").upload_id
    with pytest.raises(oss2.exceptions.BucketNotEmpty) as ei:
        b.delete_bucket()
    h.assert_oss2_error(ei.value, 409, "BucketNotEmpty")
    b.abort_multipart_upload("pending", upload_id)
    assert b.delete_bucket().status == 204


def test_v2_delete_non_empty_bucket(server, v2, bucket_name):
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="k", body=b"1"))
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.delete_bucket(oss.DeleteBucketRequest(bucket=bucket_name))
    h.assert_v2_error(ei, 409, "BucketNotEmpty")


# ---------------------------------------------------------------- ListBuckets

@pytest.fixture
def three_buckets(server):
    """Three buckets sharing a unique prefix (created with root credentials, V1)."""
    prefix = h.unique_name("lb")
    names = sorted("%s-%d" % (prefix, i) for i in range(3))
    created = []
    try:
        for name in names:
            h.oss2_bucket(server, name, "v1").create_bucket()
            created.append(name)
        yield prefix, names
    finally:
        h.cleanup_buckets(server, created)


def test_oss2_list_buckets_prefix_marker_max_keys(server, sig, three_buckets):
    prefix, names = three_buckets
    svc = h.oss2_service(server, sig)

    r = svc.list_buckets(prefix=prefix)
    assert [b.name for b in r.buckets] == names
    assert r.is_truncated is False
    for b in r.buckets:
        assert b.location == h.LOCATION
        assert b.storage_class == "Standard"
        assert b.extranet_endpoint and b.intranet_endpoint
        assert b.creation_date > 0

    r = svc.list_buckets(prefix=prefix, max_keys=2)
    assert [b.name for b in r.buckets] == names[:2]
    assert r.is_truncated is True
    assert r.next_marker == names[1]

    r = svc.list_buckets(prefix=prefix, marker=r.next_marker, max_keys=2)
    assert [b.name for b in r.buckets] == names[2:]
    assert r.is_truncated is False

    r = svc.list_buckets(prefix=prefix, marker=names[0])
    assert [b.name for b in r.buckets] == names[1:]

    r = svc.list_buckets(prefix=prefix + "-nothing-matches")
    assert r.buckets == []

    # the iterator helper pages through with max_keys=1
    assert [b.name for b in oss2.BucketIterator(svc, prefix=prefix, max_keys=1)] == names


def test_v2_list_buckets(server, v2, three_buckets):
    prefix, names = three_buckets
    r = v2.list_buckets(oss.ListBucketsRequest(prefix=prefix))
    assert [b.name for b in r.buckets] == names
    for b in r.buckets:
        assert b.location == h.LOCATION
        assert b.creation_date is not None
        assert b.storage_class == "Standard"

    r = v2.list_buckets(oss.ListBucketsRequest(prefix=prefix, max_keys=1))
    assert [b.name for b in r.buckets] == names[:1]
    assert r.is_truncated is True
    assert r.next_marker == names[0]

    pages = list(v2.list_buckets_paginator(limit=2).iter_page(oss.ListBucketsRequest(prefix=prefix)))
    got = [b.name for p in pages for b in (p.buckets or [])]
    assert got == names
    assert len(pages) == 2


# ---------------------------------------------------------------- Location / Stat / ACL

def test_get_bucket_location(server, sig, bucket_name, v2):
    b = h.oss2_bucket(server, bucket_name, sig)
    assert b.get_bucket_location().location == h.LOCATION
    r = v2.get_bucket_location(oss.GetBucketLocationRequest(bucket=bucket_name))
    assert r.location == h.LOCATION


def test_get_bucket_stat(server, sig, o2, v2, bucket_name):
    # Real OSS updates these statistics asynchronously; Coffer keeps them exact, which is
    # what a client reading right after the writes should see on a single-node server.
    o2.put_object("a", b"123")
    o2.put_object("b", b"12345")
    o2.init_multipart_upload("c")
    st = o2.get_bucket_stat()
    assert st.storage_size_in_bytes == 8
    assert st.object_count == 2
    assert st.multi_part_upload_count == 1

    r = v2.get_bucket_stat(oss.GetBucketStatRequest(bucket=bucket_name))
    assert r.storage == 8
    assert r.object_count == 2
    assert r.multi_part_upload_count == 1


def test_get_bucket_stat_by_storage_class_and_pending_parts(server, sig, o2, v2, bucket_name):
    # Each class's figures count its own objects. The *Storage figure of the IA and archive
    # classes is the billed size: an object under 64 KB counts as 64 KB; *RealStorage is the
    # actual size. Parts uploaded to an unfinished upload are counted apart from objects.
    big = 70 * 1024
    o2.put_object("std", b"s" * 10)
    o2.put_object("ia-small", b"i" * 100, headers={"x-oss-storage-class": "IA"})
    o2.put_object("ia-big", b"I" * big, headers={"x-oss-storage-class": "IA"})
    o2.put_object("arch", b"a" * 5, headers={"x-oss-storage-class": "Archive"})
    o2.put_object("cold", b"c" * 7, headers={"x-oss-storage-class": "ColdArchive"})
    upload = o2.init_multipart_upload("pending").upload_id
    o2.upload_part("pending", upload, 1, b"p" * 1000)
    o2.upload_part("pending", upload, 2, b"q" * 24)

    st = o2.get_bucket_stat()
    assert (st.object_count, st.storage_size_in_bytes) == (5, 10 + 100 + big + 5 + 7)
    assert (st.standard_object_count, st.standard_storage) == (1, 10)
    assert st.infrequent_access_object_count == 2
    assert st.infrequent_access_real_storage == 100 + big
    assert st.infrequent_access_storage == 64 * 1024 + big
    assert (st.archive_object_count, st.archive_real_storage, st.archive_storage) == (1, 5, 64 * 1024)
    assert (st.cold_archive_object_count, st.cold_archive_real_storage) == (1, 7)
    assert st.cold_archive_storage == 64 * 1024
    assert (st.multi_part_upload_count, st.multipart_part_count) == (1, 2)

    r = v2.get_bucket_stat(oss.GetBucketStatRequest(bucket=bucket_name))
    assert (r.standard_object_count, r.standard_storage) == (1, 10)
    assert (r.infrequent_access_storage, r.infrequent_access_real_storage) == (64 * 1024 + big, 100 + big)
    assert (r.deep_cold_archive_object_count, r.deep_cold_archive_storage) == (0, 0)
    assert r.multi_part_upload_count == 1


@pytest.mark.parametrize("acl", ["public-read", "public-read-write", "private"])
def test_oss2_bucket_acl_roundtrip(o2, acl):
    assert o2.put_bucket_acl(acl).status == 200
    assert o2.get_bucket_acl().acl == acl
    assert o2.get_bucket_info().acl.grant == acl


def test_v2_bucket_acl_roundtrip(v2, bucket_name):
    assert v2.get_bucket_acl(oss.GetBucketAclRequest(bucket=bucket_name)).acl == "private"
    r = v2.put_bucket_acl(oss.PutBucketAclRequest(bucket=bucket_name, acl="public-read"))
    assert r.status_code == 200
    assert v2.get_bucket_acl(oss.GetBucketAclRequest(bucket=bucket_name)).acl == "public-read"


def test_put_bucket_acl_invalid_value(o2):
    # §4.3: InvalidArgument for "bad ACL".
    with pytest.raises(oss2.exceptions.InvalidArgument) as ei:
        o2.put_bucket_acl("world-writable")
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")


def test_bucket_ops_on_missing_bucket(server, sig, v2):
    name = h.unique_name("missing")
    b = h.oss2_bucket(server, name, sig)
    for call in (b.get_bucket_info, b.get_bucket_acl, b.get_bucket_location,
                 b.get_bucket_stat, b.list_objects):
        with pytest.raises(oss2.exceptions.NoSuchBucket) as ei:
            call()
        h.assert_oss2_error(ei.value, 404, "NoSuchBucket")
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_bucket_info(oss.GetBucketInfoRequest(bucket=name))
    h.assert_v2_error(ei, 404, "NoSuchBucket")


# ---------------------------------------------------------------- InvalidBucketName

@pytest.mark.parametrize("bad_name", [
    "ab",                 # too short
    "a" * 64,             # too long
    "Upper-case",         # upper case
    "under_score",        # '_'
    "-leading-hyphen",
    "trailing-hyphen-",
])
def test_invalid_bucket_name(server, sig, bad_name):
    # Both SDKs validate bucket names client side, so the name is swapped in after the
    # oss2.Bucket was constructed; the request itself is produced and signed by oss2.
    b = h.oss2_bucket(server, "placeholder-bucket", sig)
    b.bucket_name = bad_name
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.create_bucket()
    h.assert_oss2_error(ei.value, 400, "InvalidBucketName")
