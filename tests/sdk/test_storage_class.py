"""Storage classes: an object written without `x-oss-storage-class` takes its bucket's class
(IA, Archive, ColdArchive, DeepColdArchive buckets), on every write path: PutObject,
AppendObject, multipart uploads, CopyObject (the destination bucket's) and PostObject; a
class the request names wins. HeadObject and both listings report it.

Coffer stores the class and reports it; it keeps every class readable (it has no
RestoreObject), where OSS requires a restore before reading Archive-class objects.
"""

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h
from test_post_object import signed_fields, post_form

COLD = ["IA", "Archive", "ColdArchive", "DeepColdArchive"]


@pytest.fixture
def class_bucket(server):
    """Factory: a fresh bucket of the given storage class, created through oss2 or the v2
    SDK, force-deleted afterwards."""
    created = []

    def _make(storage_class, sdk="oss2"):
        name = h.unique_name("sc")
        if sdk == "oss2":
            b = h.oss2_bucket(server, name, "v4")
            b.create_bucket(oss2.BUCKET_ACL_PRIVATE,
                            oss2.models.BucketCreateConfig(storage_class))
        else:
            h.v2_client(server).put_bucket(oss.PutBucketRequest(
                bucket=name,
                create_bucket_configuration=oss.CreateBucketConfiguration(
                    storage_class=storage_class)))
        created.append(name)
        return name

    yield _make
    h.cleanup_buckets(server, created)


def _class_oss2(bucket, key):
    return bucket.head_object(key).headers.get("x-oss-storage-class")


def _class_v2(client, bucket_name, key):
    return client.head_object(oss.HeadObjectRequest(bucket=bucket_name, key=key)).storage_class


def _listed(server, bucket_name):
    """{key: storage class} from ListObjects (oss2) and ListObjectsV2 (v2); both must agree."""
    o2 = h.oss2_bucket(server, bucket_name, "v4")
    v1 = {o.key: o.storage_class for o in o2.list_objects(max_keys=1000).object_list}
    r = h.v2_client(server).list_objects_v2(
        oss.ListObjectsV2Request(bucket=bucket_name, max_keys=1000))
    v2 = {o.key: o.storage_class for o in (r.contents or [])}
    assert v1 == v2
    return v1


@pytest.mark.parametrize("storage_class", COLD)
def test_put_object_takes_the_bucket_class(server, class_bucket, storage_class):
    name = class_bucket(storage_class)
    o2 = h.oss2_bucket(server, name, "v4")
    v2 = h.v2_client(server)
    assert o2.get_bucket_info().storage_class == storage_class
    o2.put_object("o2", b"a")
    v2.put_object(oss.PutObjectRequest(bucket=name, key="v2", body=b"b"))
    # a class named in the request wins
    o2.put_object("std", b"c", headers={"x-oss-storage-class": "Standard"})
    v2.put_object(oss.PutObjectRequest(bucket=name, key="ia", body=b"d", storage_class="IA"))
    for key in ("o2", "v2"):
        assert _class_oss2(o2, key) == storage_class
        assert _class_v2(v2, name, key) == storage_class
    assert _class_oss2(o2, "std") == "Standard"
    assert _class_v2(v2, name, "ia") == "IA"
    assert _listed(server, name) == {"o2": storage_class, "v2": storage_class,
                                     "std": "Standard", "ia": "IA"}


def test_standard_bucket_is_standard(server, class_bucket):
    name = class_bucket("Standard", sdk="v2")
    v2 = h.v2_client(server)
    v2.put_object(oss.PutObjectRequest(bucket=name, key="k", body=b"x"))
    assert _class_v2(v2, name, "k") == "Standard"
    assert _listed(server, name) == {"k": "Standard"}


@pytest.mark.parametrize("storage_class", ["IA", "Archive"])
def test_append_takes_the_bucket_class(server, class_bucket, storage_class):
    name = class_bucket(storage_class, sdk="v2")
    o2 = h.oss2_bucket(server, name, "v1")
    v2 = h.v2_client(server)
    r = o2.append_object("o2", 0, b"first")
    o2.append_object("o2", r.next_position, b"-second")
    r = v2.append_object(oss.AppendObjectRequest(bucket=name, key="v2", position=0, body=b"x"))
    v2.append_object(oss.AppendObjectRequest(bucket=name, key="v2",
                                             position=r.next_position, body=b"y"))
    for key in ("o2", "v2"):
        assert _class_oss2(o2, key) == storage_class
        assert _class_v2(v2, name, key) == storage_class
    assert o2.get_object("o2").read() == b"first-second"


@pytest.mark.parametrize("storage_class", ["ColdArchive", "DeepColdArchive"])
def test_append_refuses_cold_archive_classes(server, class_bucket, storage_class):
    """OSS cannot make an appendable object ColdArchive or DeepColdArchive (EC
    0016-00000503): neither when the request names the class nor by taking the bucket's."""
    name = class_bucket(storage_class)
    o2 = h.oss2_bucket(server, name, "v4")
    v2 = h.v2_client(server)
    e = h.expect_error(lambda: o2.append_object("a", 0, b"x"), 400, "InvalidArgument")
    assert e.ec == "0016-00000503"
    h.expect_error(lambda: v2.append_object(oss.AppendObjectRequest(
        bucket=name, key="a", position=0, body=b"x")), 400, "InvalidArgument")
    assert not o2.object_exists("a")
    # naming an appendable class is fine, in any bucket
    o2.append_object("a", 0, b"x", headers={"x-oss-storage-class": "Archive"})
    assert _class_oss2(o2, "a") == "Archive"
    # and naming a cold class is refused anywhere
    std = class_bucket("Standard")
    h.expect_error(lambda: v2.append_object(oss.AppendObjectRequest(
        bucket=std, key="b", position=0, body=b"x", storage_class=storage_class)),
        400, "InvalidArgument")


@pytest.mark.parametrize("storage_class", ["IA", "ColdArchive"])
def test_multipart_takes_the_bucket_class(server, class_bucket, storage_class):
    name = class_bucket(storage_class)
    o2 = h.oss2_bucket(server, name, "v4")
    v2 = h.v2_client(server)
    data = h.rand_bytes(1000)

    up = o2.init_multipart_upload("o2")
    etag = o2.upload_part("o2", up.upload_id, 1, data).etag
    o2.complete_multipart_upload("o2", up.upload_id, [oss2.models.PartInfo(1, etag)])

    init = v2.initiate_multipart_upload(
        oss.InitiateMultipartUploadRequest(bucket=name, key="v2"))
    part = v2.upload_part(oss.UploadPartRequest(bucket=name, key="v2", upload_id=init.upload_id,
                                                part_number=1, body=data))
    v2.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=name, key="v2", upload_id=init.upload_id,
        complete_multipart_upload=oss.CompleteMultipartUpload(
            parts=[oss.UploadPart(part_number=1, etag=part.etag)])))

    up = o2.init_multipart_upload("named", headers={"x-oss-storage-class": "Standard"})
    etag = o2.upload_part("named", up.upload_id, 1, data).etag
    o2.complete_multipart_upload("named", up.upload_id, [oss2.models.PartInfo(1, etag)])

    for key in ("o2", "v2"):
        assert _class_oss2(o2, key) == storage_class
        assert _class_v2(v2, name, key) == storage_class
    assert _listed(server, name) == {"o2": storage_class, "v2": storage_class,
                                     "named": "Standard"}


def test_copy_takes_the_destination_bucket_class(server, class_bucket):
    """CopyObject writes the class the request names, whatever the metadata directive,
    else the destination bucket's class (never the source's)."""
    ia = class_bucket("IA")
    archive = class_bucket("Archive", sdk="v2")
    src = h.oss2_bucket(server, ia, "v4")
    src.put_object("src", b"payload", headers={"x-oss-meta-a": "1"})
    assert _class_oss2(src, "src") == "IA"
    dst = h.oss2_bucket(server, archive, "v4")
    v2 = h.v2_client(server)

    dst.copy_object(ia, "src", "o2")
    v2.copy_object(oss.CopyObjectRequest(bucket=archive, key="v2", source_bucket=ia,
                                         source_key="src"))
    dst.copy_object(ia, "src", "replace", headers={"x-oss-metadata-directive": "REPLACE"})
    v2.copy_object(oss.CopyObjectRequest(bucket=archive, key="named", source_bucket=ia,
                                         source_key="src", storage_class="Standard"))
    for key in ("o2", "v2", "replace"):
        assert _class_oss2(dst, key) == "Archive"
        assert _class_v2(v2, archive, key) == "Archive"
    assert _class_v2(v2, archive, "named") == "Standard"
    assert dst.head_object("o2").headers["x-oss-meta-a"] == "1"

    # Copying an object onto itself with a class is how OSS converts it (COPY directive:
    # the metadata stays).
    src.copy_object(ia, "src", "src", headers={"x-oss-storage-class": "Archive"})
    hd = src.head_object("src")
    assert hd.headers["x-oss-storage-class"] == "Archive"
    assert hd.headers["x-oss-meta-a"] == "1"
    assert _listed(server, ia) == {"src": "Archive"}


def test_upload_part_copy_takes_the_destination_bucket_class(server, class_bucket):
    std = class_bucket("Standard")
    ia = class_bucket("IA")
    data = h.rand_bytes(300 * h.KB)
    h.oss2_bucket(server, std, "v4").put_object("src", data)
    o2 = h.oss2_bucket(server, ia, "v4")
    up = o2.init_multipart_upload("dst")
    r = o2.upload_part_copy(std, "src", (0, len(data) - 1), "dst", up.upload_id, 1)
    o2.complete_multipart_upload("dst", up.upload_id, [oss2.models.PartInfo(1, r.etag)])
    assert _class_oss2(o2, "dst") == "IA"
    assert o2.get_object("dst").read() == data

    # the v2 Copier (multipart copy once over its threshold) lands in the bucket's class too
    v2 = h.v2_client(server)
    copier = v2.copier(multipart_copy_threshold=100 * h.KB, part_size=100 * h.KB,
                       disable_shallow_copy=True)
    copier.copy(oss.CopyObjectRequest(bucket=ia, key="copier", source_bucket=std,
                                      source_key="src"))
    assert _class_v2(v2, ia, "copier") == "IA"
    assert v2.get_object(oss.GetObjectRequest(bucket=ia, key="copier")).body.read() == data


@pytest.mark.parametrize("sig", ["v1", "v4"])
def test_post_object_takes_the_bucket_class(server, class_bucket, sig):
    name = class_bucket("IA")
    fields = signed_fields(server, sig, [{"bucket": name}]) + [("key", "posted")]
    r = post_form(server, name, fields, b"form data")
    assert r.status_code == 204, r.text
    named = signed_fields(server, sig, [{"bucket": name}]) + [
        ("key", "named"), ("x-oss-storage-class", "Archive")]
    r = post_form(server, name, named, b"form data")
    assert r.status_code == 204, r.text
    o2 = h.oss2_bucket(server, name, "v4")
    assert _class_oss2(o2, "posted") == "IA"
    assert _class_oss2(o2, "named") == "Archive"
    assert _listed(server, name) == {"posted": "IA", "named": "Archive"}
