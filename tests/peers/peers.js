#!/usr/bin/env node
// Local, protocol-true peers for deployex's bucket and secrets tests.  Each
// mode listens on 127.0.0.1 only, appends one JSON line per request to --log,
// and writes --ready once it listens.  A line's "port" is the client's source
// port: requests that share one keep-alive connection share it; a gcp line's
// "tok" numbers the access token the request carried or was issued (1, 2, ...).
//
//   node peers.js s3  --port P --backend-port Q --dir D --buckets b1,b2
//                     --keys AKID:SECRET[:TOKEN],... [--region R]
//       s3rver (npm) on Q behind a front on P that VERIFIES SigV4 (reference
//       signature from npm aws4 over the request's signed headers) and answers
//       403 SignatureDoesNotMatch / InvalidAccessKeyId / InvalidToken.
//       s3rver alone accepts anything; tests publish through Q directly.
//       The front also does what s3rver ignores: conditional PUTs
//       (If-None-Match: * creates only, If-Match: ETAG replaces only that
//       content; 412 PreconditionFailed otherwise, 404 for If-Match on no
//       object), serialized per key so that two racing writers get exactly
//       one success.  Each log line names the access key that signed it.
//   node peers.js gcp --port P --dir OBJECTS --sa-pub PEM --sa-email E
//                     [--secrets-dir S] [--token-ttl SECS]
//       OAuth2 token endpoint (POST /token: verifies the RS256 JWT against the
//       service account's public key and its iss/scope/aud/iat/exp claims),
//       the GCE metadata token endpoint, the GCS JSON API media download
//       (/storage/v1/b/B/o/OBJ?alt=media: bearer checked, generation + ETag,
//       304 on ifGenerationNotMatch / If-None-Match), the media upload
//       (POST /upload/storage/v1/b/B/o?uploadType=media&name=OBJ: a read_write
//       scope required, written whole) and Secret Manager
//       (/v1/projects/P/secrets/S/versions/V:access).
//       --sa-pub and --sa-email take comma-separated lists (one service
//       account per simulated host); a log line names the account ("who").
//       Objects carry a real generation counter: an upload with
//       ifGenerationMatch=0 creates only, =N replaces generation N only,
//       412 conditionNotMet otherwise; uploads answer the new generation.
//       DELETE and list (?prefix=&delimiter=/) of the JSON API are served.
//   node peers.js aws --port P --keys ... [--secrets-dir S]
//                     [--imds-creds AKID:SECRET:TOKEN] [--region R]
//       AWS Secrets Manager (POST /, X-Amz-Target
//       secretsmanager.GetSecretValue, SigV4 verified) and IMDSv2
//       (PUT /latest/api/token, GET /latest/meta-data/iam/security-credentials/).
//
//   node peers.js forward --port P --to SOCKET
//       a TCP relay from 127.0.0.1:P to the unix socket SOCKET: a host
//       simulated in its own network namespace reaches a peer started with
//       --unix SOCKET through it (every mode takes --unix as well as --port).
//
// Test hooks on every mode: POST /__admin/fail?status=503&count=N answers the
// next N requests with that status (&method=PUT&match=SUBSTRING: only those
// requests; &code=C: the S3 error code, e.g. ConditionalRequestConflict); POST /__admin/delay?ms=N delays answers;
// POST /__admin/revoke (gcp) forgets every issued token.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

function parseArgs(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) out[argv[i].slice(2)] = argv[++i];
    else out._.push(argv[i]);
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const mode = args._[0];
const port = Number(args.port);
const region = args.region || 'us-east-1';

function log(entry) {
  if (!args.log) return;
  const line = Object.assign({ peer: mode, t: Date.now() }, entry);
  // "port" (and "tok") go last, so that tests matching '"target":...,"status":...' still do.
  for (const k of ['port', 'tok']) {
    if (k in line) { const v = line[k]; delete line[k]; line[k] = v; }
  }
  fs.appendFileSync(args.log, JSON.stringify(line) + '\n');
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

function parseKeys(spec) {
  const keys = {};
  for (const item of (spec || '').split(',').filter(Boolean)) {
    const [id, secret, token] = item.split(':');
    keys[id] = { secret, token: token || null };
  }
  return keys;
}

// ---- test hooks --------------------------------------------------------
const hooks = { failStatus: 0, failCount: 0, failMethod: '', failMatch: '', failCode: '', delayMs: 0 };

function handleAdmin(req, res, url) {
  if (url.pathname === '/__admin/fail') {
    hooks.failStatus = Number(url.searchParams.get('status') || 503);
    hooks.failCount = Number(url.searchParams.get('count') || 1);
    hooks.failMethod = url.searchParams.get('method') || '';
    hooks.failMatch = url.searchParams.get('match') || '';
    hooks.failCode = url.searchParams.get('code') || '';
  } else if (url.pathname === '/__admin/delay') {
    hooks.delayMs = Number(url.searchParams.get('ms') || 0);
  } else if (url.pathname === '/__admin/revoke') {
    tokens.clear();
  } else {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(204);
  res.end();
}

// Returns true when the request was answered by a hook.
async function applyHooks(req, res) {
  if (hooks.delayMs) await new Promise((r) => setTimeout(r, hooks.delayMs));
  if (hooks.failCount > 0 && (!hooks.failMethod || hooks.failMethod === req.method) &&
      (!hooks.failMatch || req.url.includes(hooks.failMatch))) {
    hooks.failCount--;
    log({ method: req.method, path: req.url, status: hooks.failStatus, injected: true });
    if (mode === 's3') {
      res.writeHead(hooks.failStatus, { 'Content-Type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${hooks.failCode || 'InjectedFailure'}</Code><Message>injected failure</Message></Error>`);
    } else {
      res.writeHead(hooks.failStatus, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: hooks.failStatus, message: 'injected failure' } }));
    }
    return true;
  }
  return false;
}

// ---- SigV4 verification ------------------------------------------------
const aws4 = mode === 's3' || mode === 'aws' ? require('aws4') : null;

// { ok: true, id } or { ok: false, status, code, message }
function verifySigV4(req, body, keys, service) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, status: 403, code: 'AccessDenied', message: 'missing or malformed SigV4 Authorization' };
  const [, id, date, reqRegion, reqService, signedList, signature] = m;
  const key = keys[id];
  if (!key) return { ok: false, status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  if (reqService !== service || reqRegion !== region) {
    return { ok: false, status: 403, code: 'SignatureDoesNotMatch', message: `credential scope ${reqRegion}/${reqService}, expected ${region}/${service}` };
  }
  const signed = signedList.split(';');
  for (const must of ['host', 'x-amz-date']) {
    if (!signed.includes(must)) return { ok: false, status: 403, code: 'SignatureDoesNotMatch', message: `${must} is not signed` };
  }
  const amzDate = req.headers['x-amz-date'] || '';
  if (!amzDate.startsWith(date)) return { ok: false, status: 403, code: 'SignatureDoesNotMatch', message: 'x-amz-date does not match the credential scope' };
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!(Math.abs(Date.now() - when) < 15 * 60 * 1000)) return { ok: false, status: 403, code: 'RequestTimeTooSkewed', message: 'x-amz-date is too far from now' };
  if (service === 's3') {
    const sha = req.headers['x-amz-content-sha256'];
    if (!sha || !signed.includes('x-amz-content-sha256')) return { ok: false, status: 400, code: 'InvalidRequest', message: 'x-amz-content-sha256 missing or unsigned' };
    if (sha !== 'UNSIGNED-PAYLOAD' && sha !== crypto.createHash('sha256').update(body).digest('hex')) {
      return { ok: false, status: 400, code: 'XAmzContentSHA256Mismatch', message: 'payload hash mismatch' };
    }
  }
  if (key.token) {
    if (req.headers['x-amz-security-token'] !== key.token || !signed.includes('x-amz-security-token')) {
      return { ok: false, status: 403, code: 'InvalidToken', message: 'The provided token is malformed or otherwise invalid.' };
    }
  }
  const headers = {};
  const include = {};
  for (const h of signed) {
    if (req.headers[h] === undefined) return { ok: false, status: 403, code: 'SignatureDoesNotMatch', message: `signed header ${h} is absent` };
    headers[h] = req.headers[h];
    include[h] = true;
  }
  const signer = new aws4.RequestSigner({
    service, region, method: req.method, path: req.url, headers, body: body.length ? body : undefined,
    doNotModifyHeaders: true, extraHeadersToInclude: include,
  }, { accessKeyId: id, secretAccessKey: key.secret });
  // With doNotModifyHeaders aws4 would take "now" for the string to sign.
  signer.datetime = amzDate;
  signer.sign();
  const want = /Signature=([0-9a-f]{64})/.exec(signer.request.headers.Authorization)[1];
  if (want !== signature) {
    return { ok: false, status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' };
  }
  return { ok: true, id };
}

// ---- s3 ----------------------------------------------------------------
async function startS3() {
  const S3rver = require('s3rver');
  const backendPort = Number(args['backend-port']);
  const keys = parseKeys(args.keys);
  const buckets = (args.buckets || 'releases').split(',').map((name) => ({ name }));
  fs.mkdirSync(args.dir, { recursive: true });
  await new S3rver({ port: backendPort, address: '127.0.0.1', silent: true, directory: args.dir, configureBuckets: buckets }).run();

  // One write at a time per key: a conditional PUT checks and writes with
  // nothing in between, as S3 does.
  const keyLocks = new Map();
  async function withKeyLock(key, fn) {
    const prev = keyLocks.get(key) || Promise.resolve();
    let release;
    const mine = new Promise((r) => { release = r; });
    const chain = prev.then(() => mine);
    keyLocks.set(key, chain);
    await prev;
    try { return await fn(); } finally {
      release();
      if (keyLocks.get(key) === chain) keyLocks.delete(key);
    }
  }
  function backend(method, reqPath, headers, body) {
    return new Promise((resolve) => {
      const up = http.request({ host: '127.0.0.1', port: backendPort, method, path: reqPath, headers }, (upRes) => {
        const chunks = [];
        upRes.on('data', (c) => chunks.push(c));
        upRes.on('end', () => resolve({ status: upRes.statusCode, headers: upRes.headers, data: Buffer.concat(chunks) }));
      });
      up.on('error', () => resolve({ status: 502, headers: {}, data: Buffer.alloc(0) }));
      up.end(body);
    });
  }
  function xmlError(res, status, code, message) {
    res.writeHead(status, { 'Content-Type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/__admin/')) return handleAdmin(req, res, url);
    const t0 = Date.now(); // when the request arrived ("t": when it was answered)
    const body = await readBody(req);
    if (await applyHooks(req, res)) return;
    const v = verifySigV4(req, body, keys, 's3');
    const entry = { t0, method: req.method, path: req.url, inm: req.headers['if-none-match'] || null, port: req.socket.remotePort };
    if (req.headers['if-match']) entry.im = req.headers['if-match'];
    if (!v.ok) {
      log(Object.assign(entry, { status: v.status, error: v.code }));
      return xmlError(res, v.status, v.code, v.message);
    }
    const headers = Object.assign({}, req.headers);
    delete headers.authorization;
    delete headers['x-amz-security-token'];
    delete headers['if-match'];
    headers.host = `127.0.0.1:${backendPort}`;
    const forward = async () => {
      if (req.method === 'PUT') delete headers['if-none-match'];
      const up = await backend(req.method, req.url, headers, body);
      // Logged before the client sees the answer.
      log(Object.assign(entry, { status: up.status, bytes: up.data.length, key: v.id }));
      res.writeHead(up.status, up.headers);
      res.end(up.data);
    };
    const conditional = req.method === 'PUT' && (req.headers['if-none-match'] || req.headers['if-match']);
    if (!conditional) {
      if (req.method === 'PUT' || req.method === 'DELETE') return withKeyLock(url.pathname, forward);
      return forward();
    }
    return withKeyLock(url.pathname, async () => {
      const head = await backend('HEAD', url.pathname, { host: headers.host }, undefined);
      const exists = head.status === 200;
      const inm = req.headers['if-none-match'];
      const im = req.headers['if-match'];
      if (inm !== undefined && inm !== '*') {
        log(Object.assign(entry, { status: 501, error: 'NotImplemented' }, { key: v.id }));
        return xmlError(res, 501, 'NotImplemented', 'If-None-Match on PUT takes * only');
      }
      if (inm === '*' && exists) {
        log(Object.assign(entry, { status: 412, error: 'PreconditionFailed' }, { key: v.id }));
        return xmlError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      }
      if (im !== undefined && !exists) {
        log(Object.assign(entry, { status: 404, error: 'NoSuchKey' }, { key: v.id }));
        return xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      }
      if (im !== undefined && im !== head.headers.etag) {
        log(Object.assign(entry, { status: 412, error: 'PreconditionFailed' }, { key: v.id }));
        return xmlError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      }
      return forward();
    });
  });
  return server;
}

// ---- gcp ---------------------------------------------------------------
const tokens = new Map(); // token -> { scope, expires, who, n }
let tokenSerial = 0; // "tok" in the log: which token (1, 2, ...) a request carried or got

function issueToken(scope, who) {
  const ttl = Number(args['token-ttl'] || 3600);
  const token = 'ya29.' + crypto.randomBytes(24).toString('hex');
  tokens.set(token, { scope, expires: Date.now() + ttl * 1000, who: who || 'metadata', n: ++tokenSerial });
  return { access_token: token, expires_in: ttl, token_type: 'Bearer' };
}

function bearerOk(req, scopes) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const t = m && tokens.get(m[1]);
  return !!t && t.expires > Date.now() && t.scope.split(' ').some((s) => scopes.includes(s));
}

function b64urlJson(s) {
  return JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
}

function tokenWho(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const t = m && tokens.get(m[1]);
  return t ? t.who : null;
}

function tokenNumber(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const t = m && tokens.get(m[1]);
  return t ? t.n : null;
}

// accounts: email -> public key PEM.
function verifyJwt(assertion, accounts, aud) {
  const parts = (assertion || '').split('.');
  if (parts.length !== 3) return 'not a JWT';
  let header, claims;
  try { header = b64urlJson(parts[0]); claims = b64urlJson(parts[1]); } catch (e) { return 'undecodable JWT'; }
  if (header.alg !== 'RS256') return 'alg must be RS256';
  const pubkey = accounts.get(claims.iss);
  if (!pubkey) return 'iss is not the service account';
  const ok = crypto.verify('RSA-SHA256', Buffer.from(parts[0] + '.' + parts[1]), pubkey, Buffer.from(parts[2], 'base64url'));
  if (!ok) return 'Invalid JWT Signature.';
  const now = Math.floor(Date.now() / 1000);
  if (claims.aud !== aud) return `aud must be ${aud}`;
  if (typeof claims.scope !== 'string' || !claims.scope) return 'scope missing';
  if (!(claims.iat <= now + 60) || !(claims.exp > now) || claims.exp - claims.iat > 3600) return 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe';
  return null;
}

function sendJson(res, status, obj, extra) {
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json' }, extra || {}));
  res.end(status === 304 ? undefined : JSON.stringify(obj));
}

function startGcp() {
  const accounts = new Map();
  const pubs = (args['sa-pub'] || '').split(',').filter(Boolean);
  const emails = (args['sa-email'] || '').split(',').filter(Boolean);
  pubs.forEach((f, i) => accounts.set(emails[i], fs.readFileSync(f, 'utf8')));
  const aud = `http://127.0.0.1:${port}/token`;
  // Generations: a counter, as GCS keeps one per object.  An object written
  // on disk by a test (not uploaded) takes its generation from its mtime.
  let nextGen = Date.now() * 1000;
  const gens = new Map(); // file -> { gen, mtimeMs }
  const generationOf = (file) => {
    let st;
    try { st = fs.statSync(file); } catch (e) { return 0; }
    const g = gens.get(file);
    if (g && g.mtimeMs === st.mtimeMs) return g.gen;
    return Math.floor(st.mtimeMs * 1000);
  };
  const readScopes = ['https://www.googleapis.com/auth/devstorage.read_only', 'https://www.googleapis.com/auth/devstorage.read_write', 'https://www.googleapis.com/auth/devstorage.full_control', 'https://www.googleapis.com/auth/cloud-platform'];
  const writeScopes = readScopes.slice(1);
  const objectFile = (bucket, object) => (object && !object.split('/').includes('..') ? path.join(args.dir, bucket, object) : null);
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/__admin/')) return handleAdmin(req, res, url);
    const t0 = Date.now(); // when the request arrived ("t": when it was answered)
    const body = await readBody(req);
    if (await applyHooks(req, res)) return;
    const entry = { t0, method: req.method, path: req.url, inm: req.headers['if-none-match'] || null, port: req.socket.remotePort };
    let who = tokenWho(req);
    if (tokenNumber(req)) entry.tok = tokenNumber(req);
    const done = (status, obj, extra) => {
      if (obj && obj.access_token) entry.tok = tokenSerial; // the one just issued
      log(Object.assign(entry, { status }, who ? { who } : {}));
      sendJson(res, status, obj, extra);
    };

    if (req.method === 'POST' && url.pathname === '/token') {
      const form = new URLSearchParams(body.toString('utf8'));
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return done(400, { error: 'unsupported_grant_type' });
      const why = accounts.size ? verifyJwt(form.get('assertion'), accounts, aud) : 'no service account configured';
      if (why) return done(400, { error: 'invalid_grant', error_description: why });
      const claims = b64urlJson(form.get('assertion').split('.')[1]);
      who = claims.iss;
      return done(200, issueToken(claims.scope, claims.iss));
    }
    if (req.method === 'GET' && url.pathname === '/computeMetadata/v1/instance/service-accounts/default/token') {
      if (req.headers['metadata-flavor'] !== 'Google') return done(403, { error: 'Metadata-Flavor: Google required' });
      return done(200, issueToken(url.searchParams.get('scopes') || 'https://www.googleapis.com/auth/cloud-platform'));
    }
    let m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      // objects.list with prefix and delimiter "/": items and prefixes, one page.
      if (!bearerOk(req, readScopes)) return done(401, { error: { code: 401, message: 'Invalid Credentials' } });
      const bucket = decodeURIComponent(m[1]);
      const prefix = url.searchParams.get('prefix') || '';
      const delim = url.searchParams.get('delimiter') || '';
      const root = path.join(args.dir, bucket);
      const names = [];
      const walk = (dir, rel) => {
        let ents = [];
        try { ents = fs.readdirSync(dir, { withFileTypes: true }); } catch (e) { return; }
        for (const e of ents) {
          const r = rel ? rel + '/' + e.name : e.name;
          if (e.isDirectory()) walk(path.join(dir, e.name), r);
          else if (!e.name.endsWith('.upload')) names.push(r);
        }
      };
      walk(root, '');
      const items = [];
      const prefixes = new Set();
      for (const n of names.sort()) {
        if (!n.startsWith(prefix)) continue;
        const rest = n.slice(prefix.length);
        const cut = delim ? rest.indexOf(delim) : -1;
        if (cut >= 0) prefixes.add(prefix + rest.slice(0, cut + 1));
        else items.push({ kind: 'storage#object', name: n, bucket, generation: String(generationOf(path.join(root, n))) });
      }
      return done(200, { kind: 'storage#objects', items, prefixes: [...prefixes] });
    }
    m = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && m) {
      if (!bearerOk(req, writeScopes)) return done(401, { error: { code: 401, message: 'Invalid Credentials' } });
      const file = objectFile(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
      if (!file) return done(400, { error: { code: 400, message: 'bad object name' } });
      try { fs.unlinkSync(file); } catch (e) { return done(404, { error: { code: 404, message: 'No such object' } }); }
      gens.delete(file);
      res.writeHead(204);
      log(Object.assign(entry, { status: 204 }, who ? { who } : {}));
      return res.end();
    }
    if (req.method === 'GET' && m) {
      if (!bearerOk(req, readScopes)) {
        return done(401, { error: { code: 401, message: 'Invalid Credentials' } });
      }
      if (url.searchParams.get('alt') !== 'media') return done(400, { error: { code: 400, message: 'only alt=media here' } });
      const bucket = decodeURIComponent(m[1]);
      const object = decodeURIComponent(m[2]);
      if (object.split('/').includes('..')) return done(400, { error: { code: 400, message: 'bad object name' } });
      const file = path.join(args.dir, bucket, object);
      let st;
      try { st = fs.statSync(file); } catch (e) { return done(404, { error: { code: 404, message: 'No such object: ' + bucket + '/' + object } }); }
      const data = fs.readFileSync(file);
      const generation = String(generationOf(file));
      const etag = '"' + crypto.createHash('md5').update(data).digest('base64') + '"';
      const meta = { 'x-goog-generation': generation, ETag: etag };
      if (url.searchParams.get('ifGenerationNotMatch') === generation || req.headers['if-none-match'] === etag) {
        return done(304, null, meta);
      }
      log(Object.assign(entry, { status: 200, bytes: data.length }, who ? { who } : {}));
      res.writeHead(200, Object.assign({ 'Content-Type': 'application/octet-stream', 'Content-Length': data.length }, meta));
      return res.end(data);
    }
    m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
      // Media upload: one request, the object appears whole (tmp + rename) or not at all.
      if (!bearerOk(req, ['https://www.googleapis.com/auth/devstorage.read_write', 'https://www.googleapis.com/auth/devstorage.full_control', 'https://www.googleapis.com/auth/cloud-platform'])) {
        const known = /^Bearer (.+)$/.exec(req.headers.authorization || '');
        if (known && tokens.has(known[1])) return done(403, { error: { code: 403, message: 'Provided scope(s) are not authorized' } });
        return done(401, { error: { code: 401, message: 'Invalid Credentials' } });
      }
      if (url.searchParams.get('uploadType') !== 'media') return done(400, { error: { code: 400, message: 'only uploadType=media here' } });
      const bucket = decodeURIComponent(m[1]);
      const object = url.searchParams.get('name') || '';
      if (!object || object.split('/').includes('..')) return done(400, { error: { code: 400, message: 'bad object name' } });
      const file = path.join(args.dir, bucket, object);
      entry.bytes = body.length;
      entry.object = object;
      // Check and write with nothing in between (node runs one handler at a time here).
      const want = url.searchParams.get('ifGenerationMatch');
      if (want !== null) {
        entry.igm = want;
        if (String(generationOf(file)) !== want) {
          return done(412, { error: { code: 412, message: 'At least one of the pre-conditions you specified did not hold.', errors: [{ reason: 'conditionNotMet' }] } });
        }
      }
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file + '.upload', body);
      fs.renameSync(file + '.upload', file);
      const gen = Math.max(nextGen++, generationOf(file) + 1);
      gens.set(file, { gen, mtimeMs: fs.statSync(file).mtimeMs });
      nextGen = Math.max(nextGen, gen + 1);
      return done(200, { kind: 'storage#object', bucket, name: object, size: String(body.length), generation: String(gen) },
        { 'x-goog-generation': String(gen) });
    }
    m = /^\/v1\/projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/:]+):access$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      if (!bearerOk(req, ['https://www.googleapis.com/auth/cloud-platform'])) {
        return done(401, { error: { code: 401, message: 'Request had invalid authentication credentials.' } });
      }
      let data;
      try { data = fs.readFileSync(path.join(args['secrets-dir'], m[1], m[2])); } catch (e) {
        return done(404, { error: { code: 404, message: `Secret [projects/${m[1]}/secrets/${m[2]}] not found or has no versions.` } });
      }
      return done(200, { name: `projects/${m[1]}/secrets/${m[2]}/versions/1`, payload: { data: data.toString('base64') } });
    }
    return done(404, { error: { code: 404, message: 'Not Found' } });
  });
}

// ---- aws (Secrets Manager + IMDSv2) --------------------------------------
function startAws() {
  const keys = parseKeys(args.keys);
  const imdsTokens = new Set();
  const [imdsId, imdsSecret, imdsToken] = (args['imds-creds'] || '').split(':');
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/__admin/')) return handleAdmin(req, res, url);
    const body = await readBody(req);
    if (await applyHooks(req, res)) return;
    const entry = { method: req.method, path: req.url, target: req.headers['x-amz-target'] || null, port: req.socket.remotePort };
    const done = (status, obj, type) => {
      log(Object.assign(entry, { status }));
      res.writeHead(status, { 'Content-Type': type || 'application/x-amz-json-1.1' });
      res.end(typeof obj === 'string' ? obj : JSON.stringify(obj));
    };

    if (req.method === 'PUT' && url.pathname === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return done(400, 'missing ttl', 'text/plain');
      const t = crypto.randomBytes(16).toString('hex');
      imdsTokens.add(t);
      return done(200, t, 'text/plain');
    }
    if (url.pathname.startsWith('/latest/meta-data/')) {
      if (!imdsTokens.has(req.headers['x-aws-ec2-metadata-token'])) return done(401, 'Unauthorized', 'text/plain');
      if (url.pathname === '/latest/meta-data/iam/security-credentials/') return done(200, 'deployex-role', 'text/plain');
      if (url.pathname === '/latest/meta-data/iam/security-credentials/deployex-role') {
        return done(200, {
          Code: 'Success', LastUpdated: new Date().toISOString(), Type: 'AWS-HMAC',
          AccessKeyId: imdsId, SecretAccessKey: imdsSecret, Token: imdsToken,
          Expiration: new Date(Date.now() + 6 * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        }, 'text/plain');
      }
      return done(404, 'Not Found', 'text/plain');
    }
    if (req.method === 'POST' && url.pathname === '/') {
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        return done(400, { __type: 'UnknownOperationException', message: 'unknown target' });
      }
      const v = verifySigV4(req, body, keys, 'secretsmanager');
      if (!v.ok) {
        const type = v.code === 'InvalidAccessKeyId' ? 'UnrecognizedClientException' : v.code === 'SignatureDoesNotMatch' ? 'InvalidSignatureException' : v.code;
        return done(v.status === 403 ? 400 : v.status, { __type: type, message: v.message });
      }
      let id;
      try { id = JSON.parse(body.toString('utf8')).SecretId; } catch (e) { return done(400, { __type: 'SerializationException', message: 'bad JSON' }); }
      let data;
      try { data = fs.readFileSync(path.join(args['secrets-dir'], encodeURIComponent(id)), 'utf8'); } catch (e) {
        return done(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
      }
      return done(200, { ARN: `arn:aws:secretsmanager:${region}:123456789012:secret:${id}`, Name: id, SecretString: data, VersionId: 'v1', VersionStages: ['AWSCURRENT'] });
    }
    return done(404, { __type: 'NotFound', message: 'no such route' });
  });
}

// A TCP relay into a unix socket: nothing parsed, bytes both ways.
function startForward() {
  const net = require('net');
  const server = net.createServer((c) => {
    const up = net.connect(args.to);
    c.pipe(up);
    up.pipe(c);
    const end = () => { c.destroy(); up.destroy(); };
    c.on('error', end);
    up.on('error', end);
  });
  server.listen(port, '127.0.0.1', () => {
    if (args.ready) fs.writeFileSync(args.ready, String(process.pid));
  });
}

async function main() {
  let server;
  if (mode === 'forward') return startForward();
  if (mode === 's3') server = await startS3();
  else if (mode === 'gcp') server = startGcp();
  else if (mode === 'aws') server = startAws();
  else {
    console.error('usage: peers.js s3|gcp|aws|forward --port P ...');
    process.exit(2);
  }
  let pending = args.unix ? 2 : 1;
  const listening = () => {
    if (--pending === 0 && args.ready) fs.writeFileSync(args.ready, String(process.pid));
  };
  // Cloud stores keep an idle connection open for a while; node's default (5 s)
  // would make a poller's connection reuse depend on how fast the host is.
  server.keepAliveTimeout = 120000;
  server.listen(port, '127.0.0.1', listening);
  if (args.unix) {
    try { fs.unlinkSync(args.unix); } catch (e) { /* absent */ }
    // A second listener on the same handler.
    http.createServer((req, res) => server.emit('request', req, res)).listen(args.unix, listening);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
