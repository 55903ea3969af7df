"""acs:SecureTransport (docs/access-control.md): true exactly when the request came over TLS.

The suite runs twice (scripts/test.sh): over plain HTTP and with COFFER_TLS=1 over HTTPS. A
bucket policy denies reads of `tls-only/*` when acs:SecureTransport is false and reads of
`plain-only/*` when it is true, so each run sees one prefix refused (403 AccessDenied, the
bucket owner included) and the other served. In TLS mode the clients' certificate checks are
also shown to be real: a client that trusts only the public CAs cannot connect.
"""
import pytest
import requests
import alibabacloud_oss_v2 as oss

import sdkhelpers as h


def _deny_reads(bucket, prefix, secure):
    return h.deny("oss:GetObject", h.bucket_arn(bucket, prefix + "/*"), principal=["*"],
                  condition={"Bool": {"acs:SecureTransport": "true" if secure else "false"}})


@pytest.fixture(scope="module")
def tbucket(module_bucket, server):
    name = module_bucket(prefix="acc-tls")
    root = h.oss2_bucket(server, name, "v1")
    for key in ("tls-only/a", "plain-only/a"):
        root.put_object(key, b"data of " + key.encode())
    root.put_bucket_policy(h.policy_doc(_deny_reads(name, "tls-only", secure=False),
                                        _deny_reads(name, "plain-only", secure=True)))
    return name


def test_policy_sees_the_transport(server, tbucket, sig):
    refused, served = ("plain-only/a", "tls-only/a") if server.tls else \
        ("tls-only/a", "plain-only/a")
    o2 = h.oss2_bucket(server, tbucket, sig)
    assert o2.get_object(served).read() == b"data of " + served.encode()
    h.expect_error(lambda: o2.get_object(refused))

    v2 = h.v2_client(server, sig)
    got = v2.get_object(oss.GetObjectRequest(bucket=tbucket, key=served))
    assert got.body.read() == b"data of " + served.encode()
    h.expect_error(lambda: v2.get_object(oss.GetObjectRequest(bucket=tbucket, key=refused)))


def test_a_plain_http_request_to_the_tls_listener_gets_no_answer(server):
    if not server.tls:
        pytest.skip("only with COFFER_TLS=1")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("http://%s:%d/" % (server.host, server.port), timeout=10)


def test_clients_verify_the_certificate(server):
    if not server.tls:
        pytest.skip("only with COFFER_TLS=1")
    import certifi
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.endpoint + "/", verify=certifi.where(), timeout=10)
    # With the test CA the same request reaches the server (and is refused: unsigned).
    assert requests.get(server.endpoint + "/", timeout=10).status_code == 403

