// lib.mjs - shared helpers of the Azure interop tests (azure_interop_test.sh runs them).
//
// The tests drive the unmodified SDKs from npm against `azure-emu serve` under the real cloud
// host names: ../cloud-dns.cjs (node --require) resolves *.vault.azure.net,
// *.managedhsm.azure.net and *.attest.azure.net to 127.0.0.1, NODE_EXTRA_CA_CERTS adds the
// emulator's test CA, and nothing in the SDKs is switched off (real-clients.md §2).
//
// Here: the environment contract with the driver, an MAA token through `skr` (POST /attest/maa
// on its Unix socket, evidence from the simulated SEV-SNP chip), and the client side of secure
// key release: checking the release JWS and unwrapping key_hsm with our own private key.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import * as jose from 'jose';

// The MAA instance skr talks to and release policies name (policies/README.md): skr reaches it
// through SKR_CONNECT_TO on port 443, so the token's iss carries no port.
export const MAA_AUTHORITY = 'https://sharedeus.eus.attest.azure.net';
export const MAA_HOST = 'sharedeus.eus.attest.azure.net';

/* Every variable the driver must set; a missing one is a driver bug, so fail loudly. */
export function env(name) {
  const v = process.env[name];
  assert.ok(v !== undefined && v !== '', `environment variable ${name} is not set`);
  return v;
}

export function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/* The simulated chip's launch facts from `azure-emu init` (host_data, vmpl, ...). */
export function chipFacts() {
  return readJson(path.join(env('EMU_STATE'), 'snp', 'chip.json'));
}

/* The emulator's test CA: the only anchor the release JWS chain may end in. */
export function testCa() {
  return new crypto.X509Certificate(fs.readFileSync(path.join(env('EMU_STATE'), 'ca.pem')));
}

export function b64url(bytes) {
  return Buffer.from(bytes).toString('base64url');
}

/*
 * The wrapping key of a release: an RSA key pair whose public half goes into the attestation's
 * runtime data exactly as the SKR sidecar puts its ephemeral key there (kid, key_ops encrypt).
 */
export function newWrappingKey(kid, modulusLength = 2048) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength });
  const pub = publicKey.export({ format: 'jwk' });
  const jwk = { kty: 'RSA', kid, key_ops: ['encrypt'], n: pub.n, e: pub.e };
  return { jwk, privateKey, modulusBytes: modulusLength / 8 };
}

/* One HTTP request to skr over its Unix socket; resolves to {status, body}. */
function skrRequest(method, urlPath, body) {
  const socketPath = env('SKR_SOCKET');
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath, method, path: urlPath,
      headers: data === undefined ? {} : {
        'content-type': 'application/json', 'content-length': data.length,
      },
      timeout: 60000,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`skr ${method} ${urlPath}: timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

/*
 * An MAA token for `runtimeClaims` (any JSON value): skr hashes the exact bytes into
 * REPORT_DATA, MAA checks that and returns them parsed as x-ms-runtime.
 */
export async function maaTokenFromSkr(runtimeClaims) {
  const runtime = Buffer.from(JSON.stringify(runtimeClaims));
  const res = await skrRequest('POST', '/attest/maa', {
    maa_endpoint: MAA_HOST, runtime_data: runtime.toString('base64'),
  });
  assert.equal(res.status, 200, `skr /attest/maa: ${res.status} ${res.body}`);
  const reply = JSON.parse(res.body.toString('utf8'));
  assert.deepEqual(Object.keys(reply), ['token']);
  assert.match(reply.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  return reply.token;
}

/* Header and claims of a compact JWS, unverified (for assertions after a verification). */
export function decodeJws(token) {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}

/*
 * What a release client must check before it trusts a release JWS (azure-formats.md §5.4):
 * RS256 only, the x5c chain ends in the test CA, every certificate is within its validity, the
 * leaf names the vault host, and the signature verifies with the leaf. Returns the payload.
 */
export async function verifyReleaseJws(value, vaultHost) {
  const { header } = decodeJws(value);
  assert.equal(header.alg, 'RS256');
  assert.ok(Array.isArray(header.x5c) && header.x5c.length >= 1, 'x5c missing');
  const chain = header.x5c.map((c) => new crypto.X509Certificate(Buffer.from(c, 'base64')));
  const ca = testCa();
  const now = Date.now();
  for (const cert of chain) {
    assert.ok(Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo),
      `certificate ${cert.subject} is outside its validity`);
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    assert.ok(chain[i].checkIssued(chain[i + 1]) && chain[i].verify(chain[i + 1].publicKey),
      `x5c[${i}] is not signed by x5c[${i + 1}]`);
  }
  const last = chain[chain.length - 1];
  const anchored = last.fingerprint256 === ca.fingerprint256 ||
    (last.checkIssued(ca) && last.verify(ca.publicKey));
  assert.ok(anchored, 'the x5c chain does not end in the test CA');
  const leaf = chain[0];
  assert.equal(leaf.ca, false, 'the release signer is a CA certificate');
  assert.equal(leaf.checkHost(vaultHost, { wildcards: true }) !== undefined, true,
    `the release signer does not name ${vaultHost}: ${leaf.subjectAltName}`);
  const key = await jose.importX509(leaf.toString(), 'RS256');
  const { payload, protectedHeader } = await jose.compactVerify(value, key,
    { algorithms: ['RS256'] });
  assert.equal(protectedHeader.alg, 'RS256');
  return JSON.parse(Buffer.from(payload).toString('utf8'));
}

const OAEP_HASH = {
  CKM_RSA_AES_KEY_WRAP: 'sha1',
  RSA_AES_KEY_WRAP_256: 'sha256',
  RSA_AES_KEY_WRAP_384: 'sha384',
};

/*
 * key_hsm -> the released key bytes (raw for oct, PKCS#8 DER for RSA/EC), azure-formats.md §5.5:
 * ciphertext = RSA-OAEP(wrapping key, KEK) || AES-KWP(KEK, key). The algorithm comes from
 * payload.request.enc, as clients must take it.
 */
export function unwrapKeyHsm(keyHsm, enc, wrapping) {
  const blob = JSON.parse(Buffer.from(keyHsm, 'base64url').toString('utf8'));
  assert.equal(blob.schema_version, '1.0.0');
  assert.equal(blob.header.alg, 'dir');
  assert.equal(blob.header.enc, enc);
  const oaepHash = OAEP_HASH[enc];
  assert.ok(oaepHash !== undefined, `unknown enc ${enc}`);
  const ct = Buffer.from(blob.ciphertext, 'base64url');
  assert.ok(ct.length > wrapping.modulusBytes + 8, `ciphertext of ${ct.length} bytes`);
  const kek = crypto.privateDecrypt({
    key: wrapping.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash,
  }, ct.subarray(0, wrapping.modulusBytes));
  assert.equal(kek.length, 32, 'the KEK is not an AES-256 key');
  const kwp = ct.subarray(wrapping.modulusBytes);
  assert.equal(kwp.length % 8, 0);
  const d = crypto.createDecipheriv('id-aes256-wrap-pad', kek, Buffer.from('A65959A6', 'hex'));
  const key = Buffer.concat([d.update(kwp), d.final()]);
  kek.fill(0);
  return { blob, key };
}
