'use strict';
/** Server-side encryption through ali-oss: bucket default rules and object-level SSE headers. */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('./harness');

const SSE = 'x-oss-server-side-encryption';
const SSE_DATA = 'x-oss-server-side-data-encryption';
const SSE_KEY = 'x-oss-server-side-encryption-key-id';

/** Puts an object without SSE headers and returns its HEAD headers after a content check. */
async function plainPut(c, key) {
  const body = crypto.randomBytes(777);
  await c.put(key, body);
  const got = await c.get(key);
  assert.ok(Buffer.compare(got.content, body) === 0, 'decrypts transparently');
  return (await c.head(key)).res.headers;
}

for (const algorithm of ['AES256', 'SM4']) {
  h.matrix(`bucket encryption ${algorithm}: put, get, objects inherit it, delete`, async (t, f) => {
    const { c, name } = await h.newBucket(f);
    await h.ossError(c.getBucketEncryption(name), 404, 'NoSuchServerSideEncryptionRule');

    const put = await c.putBucketEncryption(name, { SSEAlgorithm: algorithm });
    assert.equal(put.status, 200);
    const got = await c.getBucketEncryption(name);
    assert.deepEqual(got.encryption, { SSEAlgorithm: algorithm });
    assert.equal((await c.getBucketInfo(name)).bucket.ServerSideEncryptionRule.SSEAlgorithm, algorithm);

    const head = await plainPut(c, 'inherits.bin');
    assert.equal(head[SSE], algorithm);
    assert.equal(head[SSE_KEY], undefined);

    const del = await c.deleteBucketEncryption(name);
    assert.equal(del.status, 204);
    await h.ossError(c.getBucketEncryption(name), 404, 'NoSuchServerSideEncryptionRule');
    assert.equal((await c.getBucketInfo(name)).bucket.ServerSideEncryptionRule.SSEAlgorithm, 'None');
    assert.equal((await c.head('inherits.bin')).res.headers[SSE], algorithm, 'existing objects keep it');
    assert.equal((await plainPut(c, 'after.bin'))[SSE], undefined);
  });
}

h.matrix('bucket encryption KMS with the default key and with a named CMK', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.putBucketEncryption(name, { SSEAlgorithm: 'KMS' });
  assert.deepEqual((await c.getBucketEncryption(name)).encryption, { SSEAlgorithm: 'KMS' });
  const head = await plainPut(c, 'default-key.bin');
  assert.equal(head[SSE], 'KMS');
  assert.match(head[SSE_KEY] || '', /\S/, 'KMS objects report the key id used');

  const cmk = await h.createCmk();
  await c.putBucketEncryption(name, { SSEAlgorithm: 'KMS', KMSMasterKeyID: cmk });
  assert.deepEqual((await c.getBucketEncryption(name)).encryption, { SSEAlgorithm: 'KMS', KMSMasterKeyID: cmk });
  const info = (await c.getBucketInfo(name)).bucket.ServerSideEncryptionRule;
  assert.equal(info.SSEAlgorithm, 'KMS');
  assert.equal(info.KMSMasterKeyID, cmk);
  const named = await plainPut(c, 'named-key.bin');
  assert.equal(named[SSE], 'KMS');
  assert.equal(named[SSE_KEY], cmk);
});

h.matrix('bucket encryption: bad algorithm, and a key id with AES256, are refused', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await h.ossError(c.putBucketEncryption(name, { SSEAlgorithm: 'DES' }), 400, 'InvalidEncryptionAlgorithmError');
  await h.ossError(c.putBucketEncryption(name, { SSEAlgorithm: 'AES256', KMSMasterKeyID: 'x' }), 400,
    'InvalidArgument');
  await h.ossError(c.getBucketEncryption(name), 404, 'NoSuchServerSideEncryptionRule');
});

h.matrix('object-level SSE headers on put; they beat the bucket default', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.putBucketEncryption(name, { SSEAlgorithm: 'AES256' });
  const cases = [
    [{ [SSE]: 'SM4' }, { [SSE]: 'SM4' }],
    [{ [SSE]: 'KMS', [SSE_DATA]: 'SM4' }, { [SSE]: 'KMS', [SSE_DATA]: 'SM4' }],
    [{ [SSE]: 'AES256', [SSE_DATA]: 'SM4' }, { [SSE]: 'AES256' }]
  ];
  for (const [i, [headers, want]] of cases.entries()) {
    const key = `obj-${i}.bin`;
    const body = crypto.randomBytes(1000 + i);
    const put = await c.put(key, body, { headers: { ...headers } });
    const got = await c.get(key);
    assert.ok(Buffer.compare(got.content, body) === 0, `${key} round trip`);
    for (const res of [put.res, got.res, (await c.head(key)).res]) {
      assert.equal(res.headers[SSE], want[SSE], `${key} algorithm`);
      assert.equal(res.headers[SSE_DATA], want[SSE_DATA], `${key} data algorithm`);
      assert.equal(Boolean(res.headers[SSE_KEY]), want[SSE] === 'KMS', `${key} key id presence`);
    }
  }
  await h.ossError(c.put('bad.bin', Buffer.from('x'), { headers: { [SSE]: 'DES' } }), 400,
    'InvalidEncryptionAlgorithmError');
  await h.ossError(c.head('bad.bin'), 404, 'NoSuchKey');
});

h.matrix('SSE on multipart, append and copy', async (t, f) => {
  const { c } = await h.newBucket(f);
  const cmk = await h.createCmk();
  const body = crypto.randomBytes(150 * h.KB);
  // The managed upload sends its headers on every UploadPart too, dropping only
  // x-oss-server-side-encryption; so it can carry the algorithm but not a key id (SSE headers on
  // UploadPart are InvalidArgument), which goes through the low-level calls below.
  const mp = await c.multipartUpload('mp.bin', body, { partSize: 100 * h.KB, headers: { [SSE]: 'SM4' } });
  assert.equal(mp.res.status, 200);
  assert.equal((await c.head('mp.bin')).res.headers[SSE], 'SM4');
  assert.ok(Buffer.compare((await c.get('mp.bin')).content, body) === 0, 'multipart round trip');

  const init = await c.initMultipartUpload('kms.bin', { headers: { [SSE]: 'KMS', [SSE_KEY]: cmk } });
  assert.equal(init.res.headers[SSE_KEY], cmk);
  const part = await c.uploadPart('kms.bin', init.uploadId, 1, body, 0, body.length);
  assert.equal(part.res.headers[SSE], 'KMS');
  assert.equal(part.res.headers[SSE_KEY], cmk);
  await h.ossError(c.uploadPart('kms.bin', init.uploadId, 2, body, 0, 10, { headers: { [SSE_KEY]: cmk } }), 400,
    'InvalidArgument');
  await c.completeMultipartUpload('kms.bin', init.uploadId, [{ number: 1, etag: part.etag }]);
  const kmsHead = (await c.head('kms.bin')).res.headers;
  assert.equal(kmsHead[SSE], 'KMS');
  assert.equal(kmsHead[SSE_KEY], cmk);
  assert.ok(Buffer.compare((await c.get('kms.bin')).content, body) === 0, 'KMS multipart round trip');

  const a1 = await c.append('app.log', Buffer.from('one,'), { headers: { [SSE]: 'SM4' } });
  await c.append('app.log', Buffer.from('two'), { position: a1.nextAppendPosition, headers: { [SSE]: 'AES256' } });
  const appHead = (await c.head('app.log')).res.headers;
  assert.equal(appHead[SSE], 'SM4', 'the first append fixes the encryption');
  assert.equal((await c.get('app.log')).content.toString(), 'one,two');

  await c.copy('copy-plain.bin', 'mp.bin');
  assert.equal((await c.head('copy-plain.bin')).res.headers[SSE], undefined, 'copy does not inherit SSE');
  await c.copy('copy-sm4.bin', 'mp.bin', { headers: { [SSE]: 'SM4' } });
  assert.equal((await c.head('copy-sm4.bin')).res.headers[SSE], 'SM4');
  assert.ok(Buffer.compare((await c.get('copy-sm4.bin')).content, body) === 0, 'copy round trip');
});
