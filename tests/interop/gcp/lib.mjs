// lib.mjs - shared helpers of the Google interop tests (gcp_interop_test.sh runs them).
//
// The tests drive the unmodified google-auth-library and @google-cloud/kms from npm against
// `gcp-emu serve --vtpm` under the real Google host names: ../cloud-dns.cjs (node --require)
// resolves *.googleapis.com to 127.0.0.1, NODE_EXTRA_CA_CERTS adds the emulator's test CA, and
// nothing in the SDKs is switched off (real-clients.md §2). Only the listener port differs
// from production.
//
// Here: the environment contract with the driver, a CRC-32C, and the subject token of workload
// identity federation made the real way (gcp-identity.md §2-§3): a challenge from the emulated
// Confidential Computing verifier, the VM identity token from the metadata server, the GCE AK
// recreated with tpm2_createprimary from its NV template, a tpm2_quote over all sha256 PCRs with
// the challenge nonce, the AK certificate from NV with its AIA chain, the event log, and
// :verifyAttestation.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

/* GCE vTPM NV indices (gcp-identity.md §2.1). */
const NV_AK_CERT_RSA = '0x01c10000';
const NV_AK_TEMPLATE_RSA = '0x01c10001';
const NV_AK_CERT_ECC = '0x01c10002';
const NV_AK_TEMPLATE_ECC = '0x01c10003';

export const STS_AUDIENCE = 'https://sts.googleapis.com';
export const OIDC_ISSUER = 'https://confidentialcomputing.googleapis.com';
export const JWKS_PATH =
  '/service_accounts/v1/metadata/jwk/signer@confidentialspace-sign.iam.gserviceaccount.com';

/* Every variable the driver must set; a missing one is a driver bug, so fail loudly. */
export function env(name) {
  const v = process.env[name];
  assert.ok(v !== undefined && v !== '', `environment variable ${name} is not set`);
  return v;
}

export function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/* DIR/endpoints.json of `gcp-emu serve`. */
export function endpoints() {
  return readJson(path.join(env('GEMU_STATE'), 'endpoints.json'));
}

/* The listener port of a service in endpoints.json ("https://localhost:P", "swtpm:...,port=P"). */
export function portOf(service) {
  const m = /[:=](\d+)$/.exec(endpoints()[service]);
  assert.ok(m, `endpoints.json: no port for ${service}`);
  return Number(m[1]);
}

/* The real Google URL of a service, on the emulator's port (real-clients.md §2.3). */
export function googleUrl(host, service) {
  return `https://${host}:${portOf(service)}`;
}

/* CRC-32C (Castagnoli, reflected 0x82F63B78), as KMS computes its *Crc32c fields. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) {
    c = CRC32C_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}
assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'CRC-32C check value');

/* One plain-HTTP GET to the metadata server listener; resolves to {status, headers, body}. */
function mdsRequest(urlPath, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: portOf('mds'), path: urlPath, method: 'GET', headers,
      timeout: 30000,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks),
      }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`MDS GET ${urlPath}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/* A /computeMetadata/v1 value, with Metadata-Flavor both ways (gcp-identity.md §7.5). */
async function mdsGet(urlPath) {
  const res = await mdsRequest(`/computeMetadata/v1/${urlPath}`, { 'Metadata-Flavor': 'Google' });
  assert.equal(res.status, 200, `MDS ${urlPath}: ${res.status} ${res.body}`);
  assert.equal(res.headers['metadata-flavor'], 'Google');
  return res.body.toString('utf8');
}

/* JSON call to the verifier under its real name with the VM's access token. */
async function verifierCall(urlPath, bearer, body) {
  const res = await fetch(`${googleUrl('confidentialcomputing.googleapis.com', 'verifier')}` +
    `/v1/${urlPath}?$alt=json%3Benum-encoding=int`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `verifier ${urlPath}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/* tpm2-tools against the emulator's swtpm (endpoints.json tcti). */
function tpm2(tool, args, workDir) {
  return execFileSync(tool, args, {
    cwd: workDir, env: { ...process.env, TPM2TOOLS_TCTI: endpoints().tcti },
    stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000,
  });
}

function nvRead(index, workDir) {
  const out = path.join(workDir, `nv-${index}.bin`);
  tpm2('tpm2_nvread', ['-C', 'o', index, '-o', out], workDir);
  return fs.readFileSync(out);
}

const TPMA_NAMES = [
  [0x00000002, 'fixedtpm'], [0x00000010, 'fixedparent'], [0x00000020, 'sensitivedataorigin'],
  [0x00000040, 'userwithauth'], [0x00010000, 'restricted'], [0x00040000, 'sign'],
];

/*
 * The createprimary arguments for a GCE AK template (marshaled TPMT_PUBLIC, gcp-identity.md
 * §2.1): RSA-2048 RSASSA-SHA256 or P-256 ECDSA-SHA256, nameAlg SHA-256, no policy, no symmetric.
 * Anything else is not a GCE AK template, so it fails the test.
 */
function akArgsFromTemplate(t) {
  const type = t.readUInt16BE(0);
  const nameAlg = t.readUInt16BE(2);
  const attrs = t.readUInt32BE(4);
  assert.equal(nameAlg, 0x000b, 'AK template nameAlg is not SHA-256');
  assert.equal(t.readUInt16BE(8), 0, 'AK template has an authPolicy');
  assert.equal(t.readUInt16BE(10), 0x0010, 'AK template symmetric is not NULL');
  let known = 0;
  const names = [];
  for (const [bit, name] of TPMA_NAMES) {
    if (attrs & bit) {
      names.push(name);
      known |= bit;
    }
  }
  assert.equal(attrs >>> 0, known >>> 0, `AK template attributes 0x${attrs.toString(16)}`);
  let alg;
  if (type === 0x0001) {
    assert.deepEqual([t.readUInt16BE(12), t.readUInt16BE(14), t.readUInt16BE(16)],
      [0x0014, 0x000b, 2048], 'RSA AK template is not RSASSA-SHA256 2048');
    alg = 'rsa2048:rsassa-sha256:null';
  } else if (type === 0x0023) {
    assert.deepEqual([t.readUInt16BE(12), t.readUInt16BE(14), t.readUInt16BE(16)],
      [0x0018, 0x000b, 0x0003], 'ECC AK template is not ECDSA-SHA256 P-256');
    alg = 'ecc256:ecdsa-sha256:null';
  } else {
    assert.fail(`AK template of type 0x${type.toString(16)}`);
  }
  return ['-G', alg, '-g', 'sha256', '-a', names.join('|')];
}

/*
 * The GCE AK as go-tpm-tools obtains it: template from NV, CreatePrimary in the endorsement
 * hierarchy (the template tpm2_createprimary used must equal the NV bytes), certificate from NV
 * whose public key must be the AK's. Returns {ctx, certDer}; the context is a transient handle
 * saved to a file (flushed right away: swtpm keeps only three transient objects).
 */
function gceAk(kind, workDir) {
  const rsa = kind === 'rsa';
  const template = nvRead(rsa ? NV_AK_TEMPLATE_RSA : NV_AK_TEMPLATE_ECC, workDir);
  const ctx = path.join(workDir, `ak-${kind}.ctx`);
  const used = path.join(workDir, `ak-${kind}.tmpl`);
  tpm2('tpm2_createprimary', ['-C', 'e', ...akArgsFromTemplate(template), '-c', ctx,
    '--template-data', used], workDir);
  tpm2('tpm2_flushcontext', ['-t'], workDir);
  assert.ok(fs.readFileSync(used).equals(template),
    'tpm2_createprimary did not use the NV template byte for byte');
  const pem = path.join(workDir, `ak-${kind}.pub.pem`);
  tpm2('tpm2_readpublic', ['-c', ctx, '-f', 'pem', '-o', pem], workDir);
  tpm2('tpm2_flushcontext', ['-t'], workDir);
  const certDer = nvRead(rsa ? NV_AK_CERT_RSA : NV_AK_CERT_ECC, workDir);
  const cert = new crypto.X509Certificate(certDer);
  const spki = (k) => k.export({ type: 'spki', format: 'der' });
  assert.ok(spki(cert.publicKey).equals(spki(crypto.createPublicKey(fs.readFileSync(pem)))),
    'the AK certificate in NV is not for the recreated AK');
  return { ctx, certDer, cert };
}

/*
 * The chain above the AK certificate as go-tpm-tools' GetCertificateChain builds it: follow the
 * AIA CA Issuers URLs (plain http, at most 4 certificates), each fetched certificate must have
 * signed its child. The AIA host is a real-looking *.storage.googleapis.com name served by the
 * MDS listener: the request goes to that listener with the URL's Host header.
 */
async function aiaChain(cert) {
  const chain = [];
  let child = cert;
  while (chain.length < 4) {
    const m = /CA Issuers - URI:(http:\/\/[^\s]+)/.exec(child.infoAccess || '');
    if (!m) {
      break;
    }
    const url = new URL(m[1]);
    assert.match(url.hostname, /\.storage\.googleapis\.com$/, `AIA URL ${url}`);
    const res = await mdsRequest(url.pathname, { host: url.host });
    assert.equal(res.status, 200, `AIA ${url}: ${res.status}`);
    const parent = new crypto.X509Certificate(res.body);
    assert.ok(child.checkIssued(parent) && child.verify(parent.publicKey),
      `${parent.subject} did not sign ${child.subject}`);
    chain.push(res.body);
    child = parent;
  }
  assert.ok(chain.length >= 1, 'the AK certificate has no AIA chain');
  return chain;
}

/*
 * An attestation token (JWT) from the emulated verifier for `audience`, on the vTPM's evidence
 * with the `kind` ('rsa' or 'ecc') GCE AK. Files go to workDir.
 */
export async function attestationToken({ audience, kind = 'rsa', workDir }) {
  const ep = endpoints();
  const vmToken = JSON.parse(await mdsGet('instance/service-accounts/default/token'));
  assert.equal(vmToken.token_type, 'Bearer');
  const zone = (await mdsGet('instance/zone')).split('/').pop();
  const region = zone.replace(/-[a-z]$/, '');
  const challenge = await verifierCall(`projects/${ep.project}/locations/${region}/challenges`,
    vmToken.access_token, {});
  assert.match(challenge.name,
    new RegExp(`^projects/${ep.project}/locations/${region}/challenges/[0-9a-f-]{36}$`));
  const nonce = Buffer.from(challenge.tpmNonce, 'base64');
  assert.ok(nonce.subarray(0, 12).equals(Buffer.from('GoogAttestV1')), 'challenge nonce');
  const idToken = await mdsGet('instance/service-accounts/default/identity?format=full&' +
    `audience=${encodeURIComponent(challenge.name)}`);

  const ak = gceAk(kind, workDir);
  const msg = path.join(workDir, 'quote.msg');
  const sig = path.join(workDir, 'quote.sig');
  const pcrs = path.join(workDir, 'quote.pcrs');
  tpm2('tpm2_quote', ['-c', ak.ctx, '-l', 'sha256:all', '-q', nonce.toString('hex'),
    '-m', msg, '-s', sig, '-o', pcrs, '-F', 'values'], workDir);
  tpm2('tpm2_flushcontext', ['-t'], workDir);
  const pcrBytes = fs.readFileSync(pcrs);
  assert.equal(pcrBytes.length, 24 * 32, 'tpm2_quote did not write 24 sha256 PCR values');
  const pcrValues = {};
  for (let i = 0; i < 24; i++) {
    pcrValues[String(i)] = pcrBytes.subarray(32 * i, 32 * (i + 1)).toString('base64');
  }
  const log = await mdsRequest('/gemu/eventlog', {});
  assert.equal(log.status, 200, `event log: ${log.status}`);
  assert.ok(log.body.length > 0, 'empty event log');

  const b64 = (b) => Buffer.from(b).toString('base64');
  const reply = await verifierCall(`${challenge.name}:verifyAttestation`, vmToken.access_token, {
    challenge: challenge.name,
    gcpCredentials: { serviceAccountIdTokens: [idToken] },
    tpmAttestation: {
      quotes: [{ hashAlgo: 11, pcrValues, rawQuote: b64(fs.readFileSync(msg)),
                 rawSignature: b64(fs.readFileSync(sig)) }],
      tcgEventLog: b64(log.body),
      akCert: b64(ak.certDer),
      certChain: (await aiaChain(ak.cert)).map(b64),
    },
    tokenOptions: { audience, tokenType: 1 },
  });
  assert.equal(typeof reply.oidcClaimsToken, 'string',
    `verifyAttestation: ${JSON.stringify(reply)}`);
  assert.match(reply.oidcClaimsToken, /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/);
  return reply.oidcClaimsToken;
}

/*
 * An external_account credential file (gcp-identity.md §7.1) next to its file-sourced subject
 * token, with the production URLs on the emulator's ports. The token is written without a
 * trailing newline: the library uses the file content verbatim.
 */
export function writeCredential({ dir, name, subjectToken, audience, serviceAccount }) {
  const tokenFile = path.join(dir, `${name}.jwt`);
  fs.writeFileSync(tokenFile, subjectToken, { mode: 0o600 });
  const cred = {
    type: 'external_account',
    audience,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: `${googleUrl('sts.googleapis.com', 'sts')}/v1/token`,
    credential_source: { file: tokenFile },
  };
  if (serviceAccount !== undefined) {
    cred.service_account_impersonation_url =
      `${googleUrl('iamcredentials.googleapis.com', 'iam')}/v1/projects/-/serviceAccounts/` +
      `${serviceAccount}:generateAccessToken`;
  }
  const credFile = path.join(dir, `${name}.json`);
  fs.writeFileSync(credFile, JSON.stringify(cred, null, 2), { mode: 0o600 });
  return credFile;
}
