'use strict';
/**
 * PostObject (browser form upload) with the policies ali-oss signs: calculatePostSignature (V1)
 * and signPostObjectPolicyV4 (V4), posted with fetch + FormData as its README shows.
 */
const assert = require('node:assert/strict');
const { getCredential } = require('ali-oss/lib/common/signUtils');
const { policy2Str } = require('ali-oss/lib/common/utils/policy2Str');
const h = require('./harness');

const ONE = [h.FLAVOURS[2]]; // the form is signed locally; one client flavour is enough

/** The form's target: the bucket's URL, path style. */
async function bucketUrl(bucket) {
  return `${await h.baseUrl()}/${bucket}`;
}

function expiresIn(seconds) {
  return new Date(Date.now() + seconds * 1000).toISOString();
}

function v4Date(d) {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

h.matrix('PostObject with a V1 policy from calculatePostSignature', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  const policy = {
    expiration: expiresIn(300),
    conditions: [['content-length-range', 1, 1024], ['starts-with', '$key', 'forms/']]
  };
  const signed = c.calculatePostSignature(policy);
  const form = new FormData();
  form.append('key', 'forms/v1.txt');
  form.append('OSSAccessKeyId', signed.OSSAccessKeyId);
  form.append('policy', signed.policy);
  form.append('Signature', signed.Signature);
  form.append('success_action_status', '200');
  form.append('file', new Blob(['posted with v1']), 'v1.txt');
  const res = await fetch(await bucketUrl(name), { method: 'POST', body: form });
  assert.equal(res.status, 200, await res.text());
  assert.equal((await c.get('forms/v1.txt')).content.toString(), 'posted with v1');
}, ONE);

h.matrix('PostObject refused by its policy answers 403 AccessDenied, whatever the file size', async (t, f) => {
  // The refusal comes once the fields before `file` are read. The client is then still
  // sending the file; the server must still deliver its answer (read the rest of the body, or
  // at least not reset the connection before the client can read the 403).
  const { c, name } = await h.newBucket(f);
  const signed = c.calculatePostSignature({ expiration: expiresIn(300), conditions: [['starts-with', '$key', 'forms/']] });
  for (const size of [10, 4 * 1024 * 1024]) {
    const form = new FormData();
    form.append('key', 'elsewhere/refused.txt');
    form.append('OSSAccessKeyId', signed.OSSAccessKeyId);
    form.append('policy', signed.policy);
    form.append('Signature', signed.Signature);
    form.append('file', new Blob([Buffer.alloc(size, 97)]), 'refused.txt');
    let res;
    try {
      res = await fetch(await bucketUrl(name), { method: 'POST', body: form });
    } catch (err) {
      assert.fail(`a ${size}-byte refused form got no answer: ${err.message} (${err.cause && err.cause.code})`);
    }
    assert.equal(res.status, 403, `${size}-byte form`);
    assert.match(await res.text(), /<Code>AccessDenied<\/Code>/);
  }
  await h.ossError(c.head('elsewhere/refused.txt'), 404, 'NoSuchKey');
}, ONE);

h.matrix('PostObject with a V4 policy from signPostObjectPolicyV4', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  const now = new Date();
  const date = v4Date(now);
  const credential = getCredential(date.split('T')[0], h.REGION, c.options.accessKeyId);
  const policy = {
    expiration: expiresIn(300),
    conditions: [
      { bucket: name },
      { 'x-oss-credential': credential },
      { 'x-oss-date': date },
      { 'x-oss-signature-version': 'OSS4-HMAC-SHA256' },
      ['content-length-range', 1, 1024],
      ['starts-with', '$key', 'forms/']
    ]
  };
  const form = new FormData();
  form.append('key', 'forms/v4.txt');
  form.append('x-oss-date', date);
  form.append('x-oss-credential', credential);
  form.append('x-oss-signature-version', 'OSS4-HMAC-SHA256');
  form.append('policy', Buffer.from(policy2Str(policy), 'utf8').toString('base64'));
  form.append('x-oss-signature', c.signPostObjectPolicyV4(policy, now));
  form.append('success_action_status', '201');
  form.append('file', new Blob(['posted with v4']), 'v4.txt');
  const res = await fetch(await bucketUrl(name), { method: 'POST', body: form });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  assert.match(text, /<Key>forms\/v4.txt<\/Key>/);
  assert.equal((await c.get('forms/v4.txt')).content.toString(), 'posted with v4');
}, ONE);
