"""ListObjects (V1) and ListObjectsV2: prefix, delimiter, marker / start-after, paging with
max-keys and continuation tokens, encoding-type=url, fetch-owner (reference §5.2, §5.3)."""
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import oss2
import pytest
import requests
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

TREE_KEYS = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/x/y/z"]

SPECIAL_KEYS = sorted([
    "sp ace/file one.txt",
    "sp ace/file+two.txt",
    "plus+key",
    "percent%25and%literal",
    "unicode/汉字/ü.txt",
    "xml/&amp;<tag>\"'.txt",
    "question?hash#",
    "tilde~!*()",
])


@pytest.fixture
def tree(o2_admin):
    for k in TREE_KEYS:
        o2_admin.put_object(k, k.encode())
    return TREE_KEYS


def _v1_keys(r):
    return [o.key for o in r.object_list]


# ---------------------------------------------------------------- V1 (oss2)

def test_oss2_list_v1_basic_fields(o2, tree):
    r = o2.list_objects()
    assert r.status == 200
    assert _v1_keys(r) == sorted(TREE_KEYS)
    assert r.prefix_list == []
    assert r.is_truncated is False
    for o in r.object_list:
        assert o.etag == h.md5_hex_upper(o.key.encode())
        assert o.size == len(o.key)
        assert o.type == "Normal"
        assert o.storage_class == "Standard"
        assert o.last_modified > 0


def test_oss2_list_v1_delimiter_prefix_marker(o2, tree):
    r = o2.list_objects(delimiter="/")
    assert _v1_keys(r) == ["c"]
    assert r.prefix_list == ["a/", "b/", "d/"]

    r = o2.list_objects(prefix="a/", delimiter="/")
    assert _v1_keys(r) == ["a/1", "a/2"]
    assert r.prefix_list == ["a/b/"]

    r = o2.list_objects(prefix="a/")
    assert _v1_keys(r) == ["a/1", "a/2", "a/b/3"]

    r = o2.list_objects(marker="a/2")
    assert _v1_keys(r) == ["a/b/3", "b/1", "c", "d/x/y/z"]

    r = o2.list_objects(prefix="d/", delimiter="/")
    assert _v1_keys(r) == []
    assert r.prefix_list == ["d/x/"]

    r = o2.list_objects(prefix="nothing-here/")
    assert _v1_keys(r) == [] and r.prefix_list == [] and r.is_truncated is False


def test_list_empty_bucket(o2, v2, bucket_name):
    r = o2.list_objects()
    assert r.object_list == [] and r.is_truncated is False
    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket_name))
    assert not r.contents
    assert r.key_count == 0
    assert r.is_truncated is False


def test_oss2_list_v1_paging(o2_admin, o2):
    keys = sorted("p/%03d" % i for i in range(25))
    for k in keys:
        o2_admin.put_object(k, b"x")
    got, marker, pages = [], "", 0
    while True:
        r = o2.list_objects(prefix="p/", marker=marker, max_keys=7)
        pages += 1
        assert len(r.object_list) <= 7
        got += _v1_keys(r)
        if not r.is_truncated:
            break
        assert r.next_marker == r.object_list[-1].key
        marker = r.next_marker
        assert pages < 20
    assert got == keys
    assert pages == 4
    # the iterator helper does the same paging
    assert [o.key for o in oss2.ObjectIterator(o2, prefix="p/", max_keys=10)] == keys


def test_oss2_list_v1_paging_with_common_prefixes(o2_admin, o2):
    # Common prefixes count towards max-keys, and the marker skips a whole prefix.
    for k in ["x/1", "x/2", "x/3", "y/1", "y/2", "z"]:
        o2_admin.put_object(k, b"x")
    entries, marker = [], ""
    for _ in range(10):
        r = o2.list_objects(delimiter="/", marker=marker, max_keys=1)
        assert len(r.object_list) + len(r.prefix_list) == 1
        entries += r.prefix_list + _v1_keys(r)
        if not r.is_truncated:
            break
        marker = r.next_marker
    assert entries == ["x/", "y/", "z"]


def test_list_invalid_max_keys(o2):
    # §4.3 InvalidArgument: "max-keys outside 1-1000".
    with pytest.raises(oss2.exceptions.InvalidArgument) as ei:
        o2.list_objects(max_keys=1001)
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")
    with pytest.raises(oss2.exceptions.InvalidArgument) as ei:
        o2.list_objects_v2(max_keys=1001)
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")


# ---------------------------------------------------------------- V2 (oss2)

def test_oss2_list_v2_delimiter_prefix_start_after(o2, tree):
    r = o2.list_objects_v2()
    assert _v1_keys(r) == sorted(TREE_KEYS)
    assert r.is_truncated is False

    r = o2.list_objects_v2(delimiter="/")
    assert _v1_keys(r) == ["c"]
    assert r.prefix_list == ["a/", "b/", "d/"]

    r = o2.list_objects_v2(prefix="a/", delimiter="/")
    assert _v1_keys(r) == ["a/1", "a/2"]
    assert r.prefix_list == ["a/b/"]

    r = o2.list_objects_v2(start_after="b/1")
    assert _v1_keys(r) == ["c", "d/x/y/z"]

    r = o2.list_objects_v2(prefix="a/", start_after="a/1")
    assert _v1_keys(r) == ["a/2", "a/b/3"]


def test_oss2_list_v2_paging_continuation_token(o2_admin, o2):
    keys = sorted("q/%03d" % i for i in range(25))
    for k in keys:
        o2_admin.put_object(k, b"x")
    got, token, pages = [], "", 0
    while True:
        r = o2.list_objects_v2(prefix="q/", continuation_token=token, max_keys=10)
        pages += 1
        assert len(r.object_list) <= 10
        got += _v1_keys(r)
        if not r.is_truncated:
            break
        assert r.next_continuation_token
        token = r.next_continuation_token
        assert pages < 20
    assert got == keys
    assert pages == 3
    assert [o.key for o in oss2.ObjectIteratorV2(o2, prefix="q/", max_keys=4)] == keys


def test_oss2_list_v2_fetch_owner(o2, tree):
    r = o2.list_objects_v2(fetch_owner=True)
    assert r.object_list
    for o in r.object_list:
        assert o.owner is not None
        assert o.owner.id
    # §5.3: Owner appears only with fetch-owner=true.
    r = o2.list_objects_v2(fetch_owner=False)
    for o in r.object_list:
        assert o.owner is None


# ---------------------------------------------------------------- v2 SDK

def test_v2_list_objects_v1(v2, bucket_name, tree):
    r = v2.list_objects(oss.ListObjectsRequest(bucket=bucket_name, prefix="a/", delimiter="/",
                                               max_keys=100))
    assert r.name == bucket_name
    assert r.prefix == "a/"
    assert r.delimiter == "/"
    assert r.max_keys == 100
    assert r.is_truncated is False
    assert [o.key for o in r.contents] == ["a/1", "a/2"]
    assert [p.prefix for p in r.common_prefixes] == ["a/b/"]
    o = r.contents[0]
    assert o.etag == '"%s"' % h.md5_hex_upper(b"a/1")
    assert o.size == 3
    assert o.object_type == "Normal"
    assert o.storage_class == "Standard"
    assert o.last_modified is not None

    r = v2.list_objects(oss.ListObjectsRequest(bucket=bucket_name, marker="b/1"))
    assert r.marker == "b/1"
    assert [o.key for o in r.contents] == ["c", "d/x/y/z"]


def test_v2_list_objects_v2_fields_and_paging(v2, bucket_name, tree):
    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket_name, delimiter="/"))
    assert r.name == bucket_name
    assert r.key_count == 4  # §5.3: KeyCount = Contents + CommonPrefixes
    assert [o.key for o in r.contents] == ["c"]
    assert [p.prefix for p in r.common_prefixes] == ["a/", "b/", "d/"]

    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket_name, max_keys=2,
                                                    start_after="a/1"))
    assert r.start_after == "a/1"  # echoed (§5.3)
    assert [o.key for o in r.contents] == ["a/2", "a/b/3"]
    assert r.is_truncated is True
    assert r.key_count == 2
    token = r.next_continuation_token
    assert token

    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket_name, max_keys=2,
                                                    continuation_token=token))
    assert r.continuation_token == token  # echoed (§5.3)
    assert [o.key for o in r.contents] == ["b/1", "c"]

    pages = list(v2.list_objects_v2_paginator(limit=2).iter_page(
        oss.ListObjectsV2Request(bucket=bucket_name)))
    assert [o.key for p in pages for o in (p.contents or [])] == sorted(TREE_KEYS)
    assert len(pages) == 3

    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket_name, fetch_owner=True,
                                                    max_keys=1))
    assert r.contents[0].owner is not None and r.contents[0].owner.id


# ---------------------------------------------------------------- encoding-type=url

@pytest.fixture
def special_tree(o2_admin):
    for k in SPECIAL_KEYS:
        o2_admin.put_object(k, b"s")
    return SPECIAL_KEYS


def test_oss2_list_special_keys_url_encoded(o2, special_tree):
    # oss2 always sends encoding-type=url and URL-decodes Key/Prefix/NextMarker (§5.2).
    assert _v1_keys(o2.list_objects()) == SPECIAL_KEYS
    assert _v1_keys(o2.list_objects_v2()) == SPECIAL_KEYS

    r = o2.list_objects(prefix="sp ace/", delimiter="/")
    assert _v1_keys(r) == ["sp ace/file one.txt", "sp ace/file+two.txt"]
    r = o2.list_objects(delimiter="/")
    assert r.prefix_list == ["sp ace/", "unicode/", "xml/"]

    # paging with markers that need encoding
    got, marker = [], ""
    for _ in range(20):
        r = o2.list_objects(marker=marker, max_keys=3)
        got += _v1_keys(r)
        if not r.is_truncated:
            break
        marker = r.next_marker
    assert got == SPECIAL_KEYS

    got, token = [], ""
    for _ in range(20):
        r = o2.list_objects_v2(continuation_token=token, max_keys=3)
        got += _v1_keys(r)
        if not r.is_truncated:
            break
        token = r.next_continuation_token
    assert got == SPECIAL_KEYS


def test_v2_list_special_keys_url_encoded(v2, bucket_name, special_tree):
    r = v2.list_objects(oss.ListObjectsRequest(bucket=bucket_name))
    assert r.encoding_type == "url"
    assert [o.key for o in r.contents] == SPECIAL_KEYS
    r = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket_name, prefix="xml/"))
    assert r.encoding_type == "url"
    assert r.prefix == "xml/"
    assert [o.key for o in r.contents] == ["xml/&amp;<tag>\"'.txt"]
    pages = list(v2.list_objects_paginator(limit=2).iter_page(
        oss.ListObjectsRequest(bucket=bucket_name)))
    assert [o.key for p in pages for o in (p.contents or [])] == SPECIAL_KEYS


def test_raw_listing_encoding(server, make_bucket):
    """Anonymous raw GETs on a public-read bucket, to see the XML itself."""
    name = make_bucket(acl="public-read")
    b = h.oss2_bucket(server, name, "v1")
    for k in SPECIAL_KEYS:
        b.put_object(k, b"s")

    # Without encoding-type the keys are XML-escaped text.
    resp = requests.get(h.path_url(server, name, query="list-type=2"))
    assert resp.status_code == 200, resp.text
    assert h.REQUEST_ID_RE.match(resp.headers.get("x-oss-request-id", ""))
    root = ET.fromstring(resp.content)
    assert root.tag == "ListBucketResult"
    assert root.findtext("EncodingType") is None
    assert [c.findtext("Key") for c in root.findall("Contents")] == SPECIAL_KEYS
    assert root.findtext("KeyCount") == str(len(SPECIAL_KEYS))

    # With encoding-type=url the keys are percent-encoded: a space must not become '+',
    # and a literal '+' must be encoded, since both SDKs decode with unquote().
    resp = requests.get(h.path_url(server, name, query="encoding-type=url&prefix=sp%20ace%2F"))
    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    assert root.findtext("EncodingType") == "url"
    raw_keys = [c.findtext("Key") for c in root.findall("Contents")]
    assert [unquote(k) for k in raw_keys] == ["sp ace/file one.txt", "sp ace/file+two.txt"]
    for k in raw_keys:
        assert " " not in k and "+" not in k, k
    assert unquote(root.findtext("Prefix")) == "sp ace/"


def test_query_plus_means_space(server, make_bucket):
    """oss2 (through requests) form-encodes query values, so a space arrives as '+'; OSS must
    decode '+' in the query string as a space (and %2B as a literal '+')."""
    name = make_bucket(acl="public-read")
    b = h.oss2_bucket(server, name, "v1")
    for k in ["a b/1", "a+b/2"]:
        b.put_object(k, b"x")
    resp = requests.get(h.path_url(server, name, query="prefix=a+b%2F"))
    assert resp.status_code == 200, resp.text
    root = ET.fromstring(resp.content)
    assert [c.findtext("Key") for c in root.findall("Contents")] == ["a b/1"]
    resp = requests.get(h.path_url(server, name, query="prefix=a%2Bb%2F"))
    root = ET.fromstring(resp.content)
    assert [c.findtext("Key") for c in root.findall("Contents")] == ["a+b/2"]
