'use strict';
/**
 * Harness for Coffer's Node SDK (ali-oss) test suite, the node:test counterpart of
 * tests/sdk/conftest.py.
 *
 * Each test file runs in its own process (that is how `node --test` works) and gets one Coffer
 * server for that process, started on first use:
 *
 *   $COFFER_BIN serve --listen 127.0.0.1:PORT --admin-listen 127.0.0.1:PORT2 \
 *       --data-dir TMP/data --region cn-hangzhou
 *
 * with root credentials OSS_ACCESS_KEY_ID=cofferadmin / OSS_ACCESS_KEY_SECRET=<random> in its
 * environment, on free loopback ports. Its output goes to TMP/server.log. The server is stopped by
 * its own PID when the file's tests end, pass or fail (and killed on any other process exit).
 * When a test fails, the server log lines for the request ids in the error and the log tail are
 * attached to the failure as diagnostics. The temporary folder is removed when every test passed;
 * otherwise the log is kept and its path printed.
 *
 * ali-oss is used unmodified, the way its README shows. Two addressings are exercised:
 *
 *  - "vhost": endpoint http://127.0.0.1:PORT. For an IP endpoint ali-oss keeps the IP in the URL
 *    and sends `Host: <bucket>.oss-cn-hangzhou.aliyuncs.com` (createRequest's isIP branch), i.e.
 *    virtual-hosted style, which Coffer serves since oss-<region>.aliyuncs.com is one of its
 *    default domains. ali-oss refuses signatureUrl() for an IP endpoint, and its `sldEnable`
 *    (path style) cannot be combined with one (it still sets the virtual Host header).
 *  - "path": endpoint http://localhost:PORT with `sldEnable: true`, ali-oss's path-style option:
 *    URLs are http://localhost:PORT/<bucket>/<key>, Host is localhost (a Coffer default domain).
 *    This is also what makes signatureUrl()/signatureUrlV4() usable against a local server.
 *
 * Each addressing is combined with V1 (HMAC-SHA1) and V4 (`authorizationV4: true`) signing.
 *
 * With COFFER_TLS=1 both listeners serve HTTPS with the certificate tests/node/run.sh made in
 * COFFER_TLS_DIR (`coffer cert self-signed`, for localhost, 127.0.0.1 and the region's
 * virtual-hosted names), and every client verifies it: run.sh puts the CA in
 * NODE_EXTRA_CA_CERTS, which Node reads at start-up, for ali-oss and fetch alike.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawn } = require('node:child_process');
const { after, it } = require('node:test');
const OSS = require('ali-oss');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const REGION = 'cn-hangzhou';
const LOCATION = `oss-${REGION}`;
const ROOT_ACCESS_KEY_ID = 'cofferadmin';
const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 10000;
const LOG_TAIL_LINES = 30;
const REQUEST_ID_RE = /\b[0-9A-F]{24}\b/g;
const KB = 1024;

/** The client flavours every matrix test runs under. */
const FLAVOURS = [
  { name: 'vhost-v1', addressing: 'vhost', v4: false },
  { name: 'vhost-v4', addressing: 'vhost', v4: true },
  { name: 'path-v1', addressing: 'path', v4: false },
  { name: 'path-v4', addressing: 'path', v4: true }
];

/** Whether this run serves HTTPS (COFFER_TLS=1): run.sh then made the certificates. */
function tls() {
  return !['', '0', undefined].includes(process.env.COFFER_TLS);
}

const SCHEME = tls() ? 'https' : 'http';

function tlsArgs() {
  if (!tls()) return [];
  const dir = process.env.COFFER_TLS_DIR;
  assert.ok(dir, 'COFFER_TLS=1 needs COFFER_TLS_DIR (tests/node/run.sh sets it)');
  const cert = path.join(dir, 'server.pem');
  const key = path.join(dir, 'server-key.pem');
  return ['--tls-cert', cert, '--tls-key', key, '--admin-tls-cert', cert, '--admin-tls-key', key];
}

/** The base URL of the OSS listener for `host` (127.0.0.1 or localhost). */
async function baseUrl(host = '127.0.0.1') {
  const srv = await getServer();
  return `${SCHEME}://${host}:${srv.port}`;
}

function cofferBin() {
  const value = process.env.COFFER_BIN || path.join(REPO_ROOT, 'target', 'debug', 'coffer');
  return path.isAbsolute(value) ? value : path.join(REPO_ROOT, value);
}

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** A loopback port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise(resolve => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = ok => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** One Coffer server process with its own data folder and log. */
class CofferServer {
  constructor(binary) {
    this.binary = binary;
    this.tmpdir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-node-'));
    this.dataDir = path.join(this.tmpdir, 'data');
    this.logPath = path.join(this.tmpdir, 'server.log');
    this.accessKeyId = ROOT_ACCESS_KEY_ID;
    this.accessKeySecret = crypto.randomBytes(24).toString('base64url');
    this.proc = null;
    this.exitCode = null;
  }

  args() {
    return ['serve', '--listen', `127.0.0.1:${this.port}`, '--admin-listen', `127.0.0.1:${this.adminPort}`,
      '--data-dir', this.dataDir, '--region', REGION, ...tlsArgs()];
  }

  /** Starts the server and waits until it accepts connections; retries on a port race. */
  async start() {
    fs.mkdirSync(this.dataDir, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      do {
        this.adminPort = await freePort();
      } while (this.adminPort === this.port);
      try {
        await this.launch();
        return;
      } catch (err) {
        if (attempt >= 3 || !err.early) throw err;
      }
    }
  }

  async launch() {
    const log = fs.openSync(this.logPath, 'a');
    fs.writeSync(log, `$ ${this.binary} ${this.args().join(' ')}\n`);
    const env = { ...process.env, OSS_ACCESS_KEY_ID: this.accessKeyId, OSS_ACCESS_KEY_SECRET: this.accessKeySecret };
    this.exitCode = null;
    this.proc = spawn(this.binary, this.args(), { cwd: this.tmpdir, env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.proc.on('exit', (code, signal) => {
      this.exitCode = code === null ? signal : code;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await canConnect(this.port))) {
      if (this.exitCode !== null) {
        const err = new Error(`coffer exited (${this.exitCode}) before accepting connections\n${this.logTail(200)}`);
        err.early = true;
        throw err;
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`coffer did not accept connections on port ${this.port} in time\n${this.logTail(200)}`);
      }
      await sleep(50);
    }
  }

  alive() {
    return this.proc !== null && this.exitCode === null;
  }

  /** SIGTERM to our own child, SIGKILL if it does not exit in time. */
  async stop() {
    if (!this.alive()) return;
    const exited = new Promise(resolve => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  logLines() {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n');
    } catch (err) {
      return [`<no server log: ${err.message}>`];
    }
  }

  logTail(n = LOG_TAIL_LINES) {
    return this.logLines().slice(-n - 1).join('\n');
  }
}

let serverPromise = null;
let server = null;
let failures = 0;

/** The Coffer server of this test process, started on first use. */
function getServer() {
  if (!serverPromise) {
    const binary = cofferBin();
    try {
      fs.accessSync(binary, fs.constants.X_OK);
    } catch {
      throw new Error(`coffer binary not found or not executable: ${binary} (build it, or set COFFER_BIN)`);
    }
    server = new CofferServer(binary);
    serverPromise = server.start().then(() => server);
  }
  return serverPromise;
}

after(async () => {
  if (!server) return;
  const crashed = !server.alive();
  await server.stop();
  if (crashed) {
    process.stderr.write(`coffer server exited early (${server.exitCode}); log kept at ${server.logPath}\n`);
  }
  if (crashed || failures > 0) {
    fs.rmSync(server.dataDir, { recursive: true, force: true });
    process.stderr.write(`coffer server log kept at ${server.logPath}\n`);
  } else {
    fs.rmSync(server.tmpdir, { recursive: true, force: true });
  }
});

// Should the process end some other way, do not leave our server behind.
process.on('exit', () => {
  if (server && server.alive()) server.proc.kill('SIGKILL');
});

/** Waits (up to a second) until the log file stops growing. */
async function settle(file) {
  let last = -1;
  for (let i = 0; i < 10; i++) {
    let size;
    try {
      size = fs.statSync(file).size;
    } catch {
      return;
    }
    if (size === last) return;
    last = size;
    await sleep(100);
  }
}

/** Attaches the server's view of a failed test to it. */
async function annotateFailure(t, err) {
  failures += 1;
  if (!server) return;
  await settle(server.logPath); // the server's log writer may lag a little behind its responses
  const ids = new Set(String(err && err.stack).match(REQUEST_ID_RE) || []);
  if (err && err.requestId) ids.add(err.requestId);
  const lines = server.logLines();
  const hits = lines.filter(line => [...ids].some(id => line.includes(id)));
  if (hits.length) {
    t.diagnostic(`coffer log lines for request ids in this failure:\n${hits.slice(-40).join('\n')}`);
  }
  const state = server.alive() ? 'running' : `EXITED (${server.exitCode})`;
  t.diagnostic(`coffer server (${state}), log ${server.logPath}, last ${LOG_TAIL_LINES} lines:\n` +
    `${server.logTail()}`);
}

/** Wraps a test body so that a failure carries the server log. */
function guarded(fn) {
  return async t => {
    try {
      await fn(t);
    } catch (err) {
      await annotateFailure(t, err);
      throw err;
    }
  };
}

/** `it` with the server log attached to failures. */
function test(name, fn) {
  return it(name, guarded(fn));
}

/** Registers `fn(t, flavour)` as one test per client flavour, named `<name> [<flavour>]`. */
function matrix(name, fn, flavours = FLAVOURS) {
  for (const flavour of flavours) {
    it(`${name} [${flavour.name}]`, guarded(t => fn(t, flavour)));
  }
}

/**
 * Over TLS, the virtual-hosted flavour needs one accommodation. For an IP endpoint ali-oss
 * derives the TLS server name (SNI) from its Host header, `<bucket>.oss-cn-hangzhou.aliyuncs.com`,
 * which the certificate covers; but for service-level calls (listBuckets) the bucket is empty and
 * the name becomes `.oss-cn-hangzhou.aliyuncs.com`, which is not a valid DNS name, so rustls (as
 * any TLS server should) refuses the handshake. Real OSS is never reached by IP, so this agent
 * names the region's endpoint instead, and the certificate is still verified against that name;
 * the Host header (what Coffer routes on) is unchanged.
 */
const VHOST_TLS_AGENT = tls()
  ? new (require('node:https').Agent)({ keepAlive: true, servername: `${LOCATION}.aliyuncs.com` })
  : undefined;

/** A new ali-oss client for `flavour` (root credentials unless `opts` says otherwise). */
async function client(flavour, opts = {}) {
  const srv = await getServer();
  const host = flavour.addressing === 'path' ? 'localhost' : '127.0.0.1';
  const agent = flavour.addressing === 'vhost' && VHOST_TLS_AGENT ? { httpsAgent: VHOST_TLS_AGENT } : {};
  return new OSS({
    region: LOCATION,
    accessKeyId: srv.accessKeyId,
    accessKeySecret: srv.accessKeySecret,
    endpoint: `${SCHEME}://${host}:${srv.port}`,
    cname: false,
    sldEnable: flavour.addressing === 'path',
    authorizationV4: flavour.v4,
    timeout: 30000,
    ...agent,
    ...opts
  });
}

function uniqueName(prefix = 'node') {
  return `${prefix}-${process.pid % 100000}-${crypto.randomBytes(5).toString('hex')}`;
}

/** Creates a fresh bucket and returns a client of `flavour` bound to it. */
async function newBucket(flavour, putOptions = {}) {
  const c = await client(flavour);
  const name = uniqueName();
  await c.putBucket(name, putOptions);
  c.useBucket(name);
  return { c, name };
}

/** Awaits `promise`, expects an ali-oss error with this status and code, and returns it. */
async function ossError(promise, status, code) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${status} ${code}, but the call succeeded`);
  assert.equal(err.code, code, `error code (${err.name}: ${err.message}; request id ${err.requestId})`);
  assert.equal(err.status, status, `HTTP status of ${code} (request id ${err.requestId})`);
  return err;
}

/** A fresh enabled CMK in Coffer's KMS, made with `coffer kms create` as root; its id. */
async function createCmk() {
  const srv = await getServer();
  const caEnv = tls() ? { COFFER_ADMIN_CA_CERT: path.join(process.env.COFFER_TLS_DIR, 'ca.pem') } : {};
  const out = execFileSync(srv.binary, ['kms', 'create', '--json', '--admin-endpoint', `${SCHEME}://127.0.0.1:${srv.adminPort}`], {
    env: { ...process.env, ...caEnv, OSS_ACCESS_KEY_ID: srv.accessKeyId, OSS_ACCESS_KEY_SECRET: srv.accessKeySecret },
    encoding: 'utf8',
    timeout: 30000
  });
  const keyId = JSON.parse(out).KeyId;
  assert.ok(keyId, `no KeyId in ${out}`);
  return keyId;
}

function md5Base64(buf) {
  return crypto.createHash('md5').update(buf).digest('base64');
}

function md5Etag(buf) {
  return `"${crypto.createHash('md5').update(buf).digest('hex').toUpperCase()}"`;
}

module.exports = {
  FLAVOURS,
  SCHEME,
  baseUrl,
  KB,
  LOCATION,
  REGION,
  client,
  createCmk,
  getServer,
  matrix,
  md5Base64,
  md5Etag,
  newBucket,
  ossError,
  test,
  uniqueName
};
