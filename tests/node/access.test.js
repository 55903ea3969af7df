'use strict';
/** Bucket policies and presigned URLs (signatureUrl / signatureUrlV4) through ali-oss. */
const assert = require('node:assert/strict');
const h = require('./harness');

// ali-oss refuses signatureUrl() for an IP endpoint, so presigned URLs use path style (localhost).
const PATH_STYLE = h.FLAVOURS.filter(f => f.addressing === 'path');

/** An unsigned path-style URL, as an anonymous client would use. */
async function anonymousUrl(bucket, key) {
  return `${await h.baseUrl()}/${bucket}/${encodeURIComponent(key)}`;
}

function publicReadPolicy(bucket) {
  return {
    Version: '1',
    Statement: [{
      Effect: 'Allow',
      Principal: ['*'],
      Action: ['oss:GetObject'],
      Resource: [`acs:oss:*:*:${bucket}/*`]
    }]
  };
}

h.matrix('putBucketPolicy / getBucketPolicy / deleteBucketPolicy, and what they allow', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.put('doc.txt', Buffer.from('policy-readable'));

  const none = await c.getBucketPolicy(name);
  assert.equal(none.status, 404, 'ali-oss returns (not throws) the 404 NoSuchBucketPolicy');
  assert.equal(none.policy, null);
  assert.equal((await fetch(await anonymousUrl(name, 'doc.txt'))).status, 403);

  const policy = publicReadPolicy(name);
  const put = await c.putBucketPolicy(name, policy);
  assert.equal(put.status, 200);
  const got = await c.getBucketPolicy(name);
  assert.equal(got.status, 200);
  assert.deepEqual(got.policy, policy);

  const anon = await fetch(await anonymousUrl(name, 'doc.txt'));
  assert.equal(anon.status, 200);
  assert.equal(await anon.text(), 'policy-readable');
  const anonPut = await fetch(await anonymousUrl(name, 'new.txt'), { method: 'PUT', body: 'no' });
  assert.equal(anonPut.status, 403, 'the policy allows reads only');

  const del = await c.deleteBucketPolicy(name);
  assert.equal(del.status, 204);
  assert.equal((await c.getBucketPolicy(name)).status, 404);
  assert.equal((await fetch(await anonymousUrl(name, 'doc.txt'))).status, 403);
});

h.matrix('putBucketPolicy refuses a document that is not a policy', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await h.ossError(c.putBucketPolicy(name, { Version: '1', Statement: [{ Effect: 'Maybe' }] }), 400,
    'InvalidPolicyDocument');
});

/** A bucket policy of these statements (one without `Principal` applies to everyone). */
function policyOf(...statements) {
  return { Version: '1', Statement: statements };
}

async function anonymousGet(bucket, key) {
  return (await fetch(await anonymousUrl(bucket, key))).status;
}

h.matrix('a bucket policy statement without Principal applies to everyone', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.put('doc.txt', Buffer.from('open'));
  await c.put('secret/x.txt', Buffer.from('closed'));

  const allow = policyOf({ Effect: 'Allow', Action: ['oss:GetObject'], Resource: [`acs:oss:*:*:${name}/*`] });
  await c.putBucketPolicy(name, allow);
  assert.deepEqual((await c.getBucketPolicy(name)).policy, allow);
  assert.equal(await anonymousGet(name, 'doc.txt'), 200, 'the Allow without Principal lets anonymous reads through');
  assert.equal((await fetch(await anonymousUrl(name, 'new.txt'), { method: 'PUT', body: 'no' })).status, 403);

  // Without a condition, an everyone-statement does not apply to the bucket owner (root).
  await c.putBucketPolicy(name, policyOf(
    { Effect: 'Allow', Action: ['oss:GetObject'], Resource: [`acs:oss:*:*:${name}/*`] },
    { Effect: 'Deny', Action: ['oss:GetObject'], Resource: [`acs:oss:*:*:${name}/secret/*`] }));
  assert.equal(await anonymousGet(name, 'doc.txt'), 200);
  assert.equal(await anonymousGet(name, 'secret/x.txt'), 403, 'the Deny without Principal refuses anonymous');
  assert.equal((await c.get('secret/x.txt')).content.toString(), 'closed', 'but not the owner');

  // With a condition it applies to everyone, the owner included.
  await c.putBucketPolicy(name, policyOf({
    Effect: 'Deny',
    Action: ['oss:GetObject'],
    Resource: [`acs:oss:*:*:${name}/secret/*`],
    Condition: { IpAddress: { 'acs:SourceIp': ['127.0.0.0/8'] } }
  }));
  const denied = await h.ossError(c.get('secret/x.txt'), 403, 'AccessDenied');
  assert.match(denied.requestId, /^[0-9A-F]{24}$/);
  assert.equal((await c.get('doc.txt')).content.toString(), 'open', 'only what the Deny names is refused');
  await c.deleteBucketPolicy(name);
  assert.equal((await c.get('secret/x.txt')).content.toString(), 'closed');
});

h.matrix('policy resources: account coffer-root matches, any other account id does not', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.put('doc.txt', Buffer.from('doc'));
  const owner = (await c.getBucketInfo(name)).bucket.Owner.ID;
  assert.equal(owner, 'coffer-root', 'the account id Coffer documents is the one it reports');
  const allowIn = account => policyOf({
    Effect: 'Allow', Principal: ['*'], Action: ['oss:GetObject'], Resource: [`acs:oss:*:${account}:${name}/*`]
  });

  await c.putBucketPolicy(name, allowIn('coffer-root'));
  assert.equal(await anonymousGet(name, 'doc.txt'), 200, 'acs:oss:*:coffer-root:<bucket>/* matches');

  await c.putBucketPolicy(name, allowIn('1234567890'));
  assert.deepEqual((await c.getBucketPolicy(name)).policy, allowIn('1234567890'), 'accepted when put');
  assert.equal(await anonymousGet(name, 'doc.txt'), 403, 'another account\'s resource grants nothing');

  // ... and denies nothing: a conditional Deny naming another account leaves root's reads alone.
  await c.putBucketPolicy(name, policyOf({
    Effect: 'Deny', Action: ['oss:GetObject'], Resource: [`acs:oss:*:1234567890:${name}/*`],
    Condition: { IpAddress: { 'acs:SourceIp': ['127.0.0.0/8'] } }
  }));
  assert.equal((await c.get('doc.txt')).content.toString(), 'doc');
});

h.matrix('signatureUrl: presigned GET (with a response override) and PUT', async (t, f) => {
  const { c } = await h.newBucket(f);
  await c.put('signed.txt', Buffer.from('signed content'));

  const getUrl = c.signatureUrl('signed.txt', { expires: 300, response: { 'content-type': 'text/x-override' } });
  const got = await fetch(getUrl);
  assert.equal(got.status, 200);
  assert.equal(await got.text(), 'signed content');
  assert.equal(got.headers.get('content-type'), 'text/x-override');

  const putUrl = c.signatureUrl('uploaded.txt', { method: 'PUT', expires: 300, 'Content-Type': 'text/plain' });
  const put = await fetch(putUrl, { method: 'PUT', body: 'via url', headers: { 'Content-Type': 'text/plain' } });
  assert.equal(put.status, 200);
  const back = await c.get('uploaded.txt');
  assert.equal(back.content.toString(), 'via url');
  assert.equal(back.res.headers['content-type'], 'text/plain');

  const tampered = await fetch(putUrl, { method: 'PUT', body: 'x', headers: { 'Content-Type': 'text/html' } });
  assert.equal(tampered.status, 403, 'Content-Type is part of the signature');
  assert.match(await tampered.text(), /<Code>SignatureDoesNotMatch<\/Code>/);

  const expired = await fetch(c.signatureUrl('signed.txt', { expires: -60 }));
  assert.equal(expired.status, 403);
  assert.match(await expired.text(), /<Code>AccessDenied<\/Code>/);
}, PATH_STYLE);

h.matrix('signatureUrlV4: presigned GET and PUT', async (t, f) => {
  const { c } = await h.newBucket(f);
  await c.put('v4.txt', Buffer.from('v4 content'));

  const getUrl = await c.signatureUrlV4('GET', 300, undefined, 'v4.txt');
  assert.match(getUrl, /x-oss-signature-version=OSS4-HMAC-SHA256/);
  const got = await fetch(getUrl);
  assert.equal(got.status, 200);
  assert.equal(await got.text(), 'v4 content');

  const putUrl = await c.signatureUrlV4('PUT', 300, { headers: { 'Content-Type': 'text/plain' } }, 'v4-put.txt');
  const put = await fetch(putUrl, { method: 'PUT', body: 'v4 via url', headers: { 'Content-Type': 'text/plain' } });
  assert.equal(put.status, 200);
  assert.equal((await c.get('v4-put.txt')).content.toString(), 'v4 via url');

  const wrongMethod = await fetch(getUrl, { method: 'DELETE' });
  assert.equal(wrongMethod.status, 403);
  assert.equal((await c.get('v4.txt')).content.toString(), 'v4 content');
}, PATH_STYLE);
