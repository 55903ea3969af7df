"""Malformed policies are refused, never half-applied (docs/access-control.md, "Policy
language"): `coffer admin policy create` exits non-zero naming the statement, element and
fault; PutBucketPolicy answers 400 InvalidPolicyDocument with the fault in the message and
leaves the previous policy (or none) in place.
"""
import json
import secrets

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

GOOD_STMT = {"Effect": "Allow", "Action": ["oss:GetObject"], "Resource": ["acs:oss:*:*:b/*"]}


def _doc(*stmts, version="1"):
    return json.dumps({"Version": version, "Statement": list(stmts)})


def _stmt(**over):
    s = dict(GOOD_STMT)
    for k, v in over.items():
        if v is None:
            s.pop(k, None)
        else:
            s[k] = v
    return s


# (id, document, substrings the error must contain)
RAM_MALFORMED = [
    ("unknown-action", _doc(GOOD_STMT, _stmt(Action=["oss:GetObject", "oss:Foo"])),
     ["Statement[1].Action[1]", "unknown action", "oss:Foo"]),
    ("unknown-kms-action", _doc(_stmt(Action="kms:Frobnicate", Resource="acs:kms:*:*:key/*")),
     ["unknown action", "kms:Frobnicate"]),
    ("action-not-service-form", _doc(_stmt(Action=["GetObject"])), ["Action", "GetObject"]),
    ("bad-effect", _doc(_stmt(Effect="Permit")), ["Statement[0]", "Effect", "Permit"]),
    ("missing-effect", _doc(_stmt(Effect=None)), ["Effect", "missing"]),
    ("missing-resource", _doc(GOOD_STMT, _stmt(Resource=None)),
     ["Statement[1]", "Resource", "missing"]),
    ("missing-action", _doc(_stmt(Action=None)), ["Action", "missing"]),
    ("action-and-notaction", _doc(_stmt(NotAction=["oss:PutObject"])), ["Action", "NotAction"]),
    ("unknown-operator", _doc(_stmt(Condition={"StringSortOf": {"oss:Prefix": "a"}})),
     ["Statement[0].Condition", "unsupported condition operator", "StringSortOf"]),
    ("unsupported-key", _doc(_stmt(Condition={"StringEquals": {"oss:Referer": "x"}})),
     ["Statement[0].Condition", "unsupported condition key", "oss:Referer"]),
    ("unsupported-acs-key", _doc(_stmt(Condition={"StringEquals": {"acs:MFAPresent": "x"}})),
     ["unsupported condition key", "acs:MFAPresent"]),
    ("operator-wrong-type", _doc(_stmt(Condition={"IpAddress": {"oss:Prefix": "10.0.0.0/8"}})),
     ["IpAddress", "oss:Prefix"]),
    ("bad-ip", _doc(_stmt(Condition={"IpAddress": {"acs:SourceIp": "300.1.1.1"}})),
     ["acs:SourceIp", "300.1.1.1"]),
    ("bad-date", _doc(_stmt(Condition={"DateLessThan": {"acs:CurrentTime": "yesterday"}})),
     ["acs:CurrentTime", "yesterday"]),
    ("principal-in-ram-policy", _doc(_stmt(Principal=["*"])), ["Principal"]),
    ("bad-version", _doc(GOOD_STMT, version="2"), ["Version", "2"]),
    ("empty-statement", _doc(), ["Statement", "empty"]),
    ("unknown-element", _doc(_stmt(Foo="bar")), ["Foo"]),
    ("malformed-resource", _doc(_stmt(Resource="arn:aws:s3:::b/*")),
     ["Resource", "arn:aws:s3:::b/*"]),
    ("not-json", '{"Version": "1", "Statement": [', ["JSON"]),
]


@pytest.mark.parametrize("doc,needles", [pytest.param(d, n, id=i) for i, d, n in RAM_MALFORMED])
def test_cli_policy_create_refuses_malformed(cli, ram, doc, needles):
    name = "sdk-bad-" + secrets.token_hex(5)
    r = cli.create_policy(name, doc, check=False)
    assert r.returncode != 0, "accepted: %s\nstdout: %s" % (doc, r.stdout)
    for needle in needles:
        assert needle in r.stderr, "%r not in the CLI's error %r" % (needle, r.stderr)
    # nothing was created
    assert cli.run("admin", "policy", "get", name, check=False).returncode != 0
    assert name not in cli.run("admin", "policy", "list", "--json").stdout


def test_cli_policy_create_from_file_and_stdin(cli, ram, tmp_path):
    """The same checks apply to --file (and `--file -`); a good document is accepted and kept
    verbatim."""
    good = h.policy_doc(h.allow(["oss:GetObject", "kms:Decrypt"], "*"))
    name = ram.policy(good)
    got = cli.json("admin", "policy", "get", name)["Policy"]
    assert json.loads(got["PolicyDocument"]) == json.loads(good)

    bad = tmp_path / "bad.json"
    bad.write_text(_doc(_stmt(Action=["oss:Foo"])))
    r = cli.run("admin", "policy", "create", "sdk-bad-file", "--file", str(bad), check=False)
    assert r.returncode != 0 and "oss:Foo" in r.stderr
    r = cli.run("admin", "policy", "create", "sdk-bad-stdin", "--file", "-", check=False,
                stdin=_doc(_stmt(Effect="Maybe")))
    assert r.returncode != 0 and "Maybe" in r.stderr


def test_cli_attach_unknown(cli, ram):
    user = ram.user()
    r = cli.run("admin", "policy", "attach", "sdk-no-such-policy", user.name, check=False)
    assert r.returncode != 0
    name = ram.policy(h.policy_doc(h.allow("oss:GetObject", "*")))
    r = cli.run("admin", "policy", "attach", name, "sdk-no-such-user", check=False)
    assert r.returncode != 0


# ---------------------------------------------------------------- PutBucketPolicy

def _bucket_malformed(bucket):
    arn = h.bucket_arn(bucket, "*")
    good = {"Effect": "Allow", "Principal": ["*"], "Action": ["oss:GetObject"],
            "Resource": [arn]}

    def s(**over):
        d = dict(good)
        for k, v in over.items():
            if v is None:
                d.pop(k, None)
            else:
                d[k] = v
        return d
    return [
        ("not-json", "this is not a policy", ["JSON"]),
        ("unknown-action", _doc(s(Action=["oss:Foo"])), ["unknown action", "oss:Foo"]),
        ("kms-action", _doc(s(Action=["kms:Decrypt"])), ["kms:Decrypt"]),
        ("bad-effect", _doc(s(Effect="Permit")), ["Effect", "Permit"]),
        ("missing-resource", _doc(good, s(Resource=None)), ["Statement[1]", "Resource"]),
        # (a statement without Principal is valid: it means "*", as on OSS)
        ("bad-principal", _doc(s(Principal=["12*"])), ["Principal", "12*"]),
        ("other-bucket", _doc(s(Resource=["acs:oss:*:*:some-other-bucket/*"])),
         ["some-other-bucket", "outside"]),
        ("star-resource", _doc(s(Resource=["*"])), ["outside"]),
        ("unknown-operator", _doc(s(Condition={"StringSortOf": {"oss:Prefix": "a"}})),
         ["StringSortOf"]),
        ("unsupported-key", _doc(s(Condition={"StringEquals": {"oss:Referer": "a"}})),
         ["oss:Referer"]),
        ("bad-version", _doc(good, version="2012-10-17"), ["2012-10-17"]),
        ("too-large", _doc(*([good] * 200)), []),
    ]


BUCKET_CASES = ["not-json", "unknown-action", "kms-action", "bad-effect", "missing-resource",
                "bad-principal", "other-bucket", "star-resource", "unknown-operator",
                "unsupported-key", "bad-version", "too-large"]


@pytest.mark.parametrize("case", BUCKET_CASES)
def test_put_bucket_policy_malformed_none_before(o2, bucket_name, case):
    _id, doc, needles = [c for c in _bucket_malformed(bucket_name) if c[0] == case][0]
    if case == "too-large":
        assert len(doc) > 16 * 1024
    e = h.expect_error(lambda: o2.put_bucket_policy(doc), 400, "InvalidPolicyDocument")
    for needle in needles:
        assert needle in e.message, "%r not in %r" % (needle, e.message)
    h.expect_error(o2.get_bucket_policy, 404, "NoSuchBucketPolicy")


def test_put_bucket_policy_malformed_keeps_previous(server, bucket_name, sig):
    o2 = h.oss2_bucket(server, bucket_name, sig)
    previous = h.policy_doc(h.allow("oss:GetObject", h.bucket_arn(bucket_name, "pub/*"),
                                    principal=["*"]))
    o2.put_bucket_policy(previous)
    o2.put_object("pub/x", b"x")
    anon = oss2.Bucket(oss2.AnonymousAuth(), server.endpoint, bucket_name, region=h.REGION)
    c = h.v2_client(server, sig)
    for _id, doc, _needles in _bucket_malformed(bucket_name):
        h.expect_error(lambda: o2.put_bucket_policy(doc), 400, "InvalidPolicyDocument")
        h.expect_error(lambda: c.put_bucket_policy(oss.PutBucketPolicyRequest(
            bucket=bucket_name, body=doc)), 400, "InvalidPolicyDocument")
        assert o2.get_bucket_policy().policy == previous, _id
    # and it is still in force
    assert anon.get_object("pub/x").read() == b"x"
