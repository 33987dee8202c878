// wif_kms.mjs - google-auth-library 10.9.1 (external_account, file-sourced subject token) and
// @google-cloud/kms 5.7.0 (REST fallback) against `gcp-emu serve --vtpm` under the real Google
// host names (https://sts.googleapis.com:<port>, ... ; test CA; no insecure option):
//   - the subject token is a verifier attestation JWT for a real TPM quote (lib.mjs), checked
//     with jose against the verifier's discovery document and JWKS
//   - GoogleAuth: STS exchange + IAM Credentials impersonation give an emulator token that the
//     emulator's KMS accepts (a forged one gets 401); without impersonation the federated token
//     is not kms-user and gets 403
//   - KMS: symmetric encrypt/decrypt round trip with AAD and CRC32C both ways; getPublicKey and
//     asymmetricDecrypt of data OAEP-SHA-256 encrypted in Node; checksum and ciphertext errors
//   - negatives: a subject token for another audience (invalid_grant), an unknown provider
//     (invalid_target), a service account whose policy does not bind us (IAM 403)
//
// Environment (gcp_interop_test.sh): GEMU_STATE, WORK_DIR, NO_BINDING_SA, GOOGLE_CLOUD_PROJECT,
// NODE_EXTRA_CA_CERTS.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { KeyManagementServiceClient } from '@google-cloud/kms';
import { GoogleAuth, IdentityPoolClient, gaxios } from 'google-auth-library';
import * as jose from 'jose';

import { JWKS_PATH, OIDC_ISSUER, STS_AUDIENCE, attestationToken, crc32c, endpoints, env,
  googleUrl, portOf, writeCredential } from './lib.mjs';

const ep = endpoints();
const workDir = env('WORK_DIR');
const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];
const KMS_BASE = `${googleUrl('cloudkms.googleapis.com', 'kms')}/v1`;
const WRONG_AUDIENCE = 'https://wrong-audience.example';

let subjectToken;
let auth;
let kms;

function newAuth(keyFile) {
  return new GoogleAuth({ keyFile, scopes: SCOPES });
}

/* The same options a production workload would pass, except the emulator's port. */
function newKms(a) {
  return new KeyManagementServiceClient({
    auth: a, fallback: true, apiEndpoint: 'cloudkms.googleapis.com', port: portOf('kms'),
  });
}

/* A raw KMS REST call with a bearer token: {status, json}. */
async function kmsRaw(method, resource, token, body) {
  const res = await fetch(`${KMS_BASE}/${resource}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/* The Google error envelope a gax REST call failed with (gaxios puts the body in message). */
async function gaxError(promise) {
  let err;
  await assert.rejects(promise, (e) => {
    err = e;
    return true;
  });
  assert.ok(err instanceof gaxios.GaxiosError, `unexpected error ${err.stack}`);
  return { status: err.status, body: JSON.parse(err.message) };
}

function flipLastChar(s) {
  const last = s[s.length - 1];
  return s.slice(0, -1) + (last === 'A' ? 'B' : 'A');
}

test.before(async () => {
  subjectToken = await attestationToken({ audience: STS_AUDIENCE, kind: 'rsa', workDir });
  const cred = writeCredential({ dir: workDir, name: 'good', subjectToken,
    audience: ep.audience, serviceAccount: ep.service_account });
  auth = newAuth(cred);
  kms = newKms(auth);
});

test('the subject token is the verifier\'s attestation JWT for the quoted vTPM', async () => {
  const verifier = googleUrl('confidentialcomputing.googleapis.com', 'verifier');
  const disco = await (await fetch(`${verifier}/.well-known/openid-configuration`)).json();
  assert.equal(disco.issuer, OIDC_ISSUER);
  assert.equal(disco.jwks_uri, `https://www.googleapis.com${JWKS_PATH}`);
  const jwks = jose.createRemoteJWKSet(
    new URL(`${googleUrl('www.googleapis.com', 'verifier')}${JWKS_PATH}`));
  const { payload, protectedHeader } = await jose.jwtVerify(subjectToken, jwks, {
    issuer: OIDC_ISSUER, audience: STS_AUDIENCE, algorithms: ['RS256'],
  });
  assert.equal(protectedHeader.typ, 'JWT');
  assert.match(protectedHeader.kid, /^[0-9a-f]{40}$/);
  assert.equal(payload.sub, `https://www.googleapis.com/compute/v1/projects/${ep.project}` +
    `/zones/${ep.zone}/instances/gemu-cvm`);
  assert.equal(payload.swname, 'GCE');
  assert.equal(payload.hwmodel, 'GCP_AMD_SEV');
  assert.equal(payload.secboot, true);
  assert.deepEqual(payload.submods.gce, {
    zone: ep.zone, project_id: ep.project, project_number: ep.project_number,
    instance_name: 'gemu-cvm', instance_id: '7333251546816446069',
  });
  assert.deepEqual(payload.google_service_accounts, [ep.vm_service_account]);
  assert.equal(payload.exp - payload.iat, 3600);
});

test('GoogleAuth external_account: token from the emulated STS and IAM Credentials', async () => {
  const client = await auth.getClient();
  assert.ok(client instanceof IdentityPoolClient, `client is ${client.constructor.name}`);
  assert.equal(await auth.getProjectId(), ep.project);
  const token = await auth.getAccessToken();
  assert.match(token, /^ya29\.gemu\.[\w-]{43}$/);
  assert.equal(await auth.getAccessToken(), token, 'the token is cached');

  /* It is the emulator's token for kms-user: the emulator's KMS accepts it, a forgery not. */
  const ok = await kmsRaw('GET', `${ep.kms_rsa_key_version}/publicKey`, token);
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal(ok.json.name, ep.kms_rsa_key_version);
  const forged = await kmsRaw('GET', `${ep.kms_rsa_key_version}/publicKey`, flipLastChar(token));
  assert.equal(forged.status, 401);
  assert.equal(forged.json.error.status, 'UNAUTHENTICATED');
});

test('without impersonation the federated token is not kms-user: KMS 403', async () => {
  const cred = writeCredential({ dir: workDir, name: 'federated', subjectToken,
    audience: ep.audience });
  const token = await newAuth(cred).getAccessToken();
  assert.match(token, /^ya29\.gemu\.[\w-]{43}$/);
  assert.notEqual(token, await auth.getAccessToken());
  const res = await kmsRaw('POST', `${ep.kms_sym_key}:encrypt`, token,
    { plaintext: Buffer.from('x').toString('base64') });
  assert.equal(res.status, 403);
  assert.deepEqual(res.json.error, {
    code: 403, status: 'PERMISSION_DENIED',
    message: `Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource ` +
      `'${ep.kms_sym_key}' (or it may not exist).`,
    details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'IAM_PERMISSION_DENIED', domain: 'cloudkms.googleapis.com',
      metadata: { permission: 'cloudkms.cryptoKeyVersions.useToEncrypt' } }],
  });
});

test('KMS symmetric encrypt and decrypt round trip, AAD and CRC32C both ways', async () => {
  const plaintext = Buffer.concat([Buffer.from('interop DEK \u00e9\n', 'utf8'),
    crypto.randomBytes(32), Buffer.from([0, 0xff, 0])]);
  const aad = Buffer.from('gcp_interop_test aad');
  const [enc] = await kms.encrypt({
    name: ep.kms_sym_key, plaintext, plaintextCrc32c: { value: crc32c(plaintext) },
    additionalAuthenticatedData: aad, additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
  });
  assert.equal(enc.name, `${ep.kms_sym_key}/cryptoKeyVersions/1`);
  assert.equal(enc.verifiedPlaintextCrc32c, true);
  assert.equal(enc.verifiedAdditionalAuthenticatedDataCrc32c, true);
  assert.equal(enc.protectionLevel, 'SOFTWARE');
  const ciphertext = Buffer.from(enc.ciphertext);
  assert.equal(enc.ciphertextCrc32c.value, String(crc32c(ciphertext)));
  assert.ok(ciphertext.subarray(0, 4).equals(Buffer.from('GKMS')), 'emulator ciphertext format');
  assert.equal(ciphertext.length, 4 + 1 + 4 + 12 + 16 + plaintext.length);

  const [dec] = await kms.decrypt({
    name: ep.kms_sym_key, ciphertext, ciphertextCrc32c: { value: crc32c(ciphertext) },
    additionalAuthenticatedData: aad, additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
  });
  assert.ok(Buffer.from(dec.plaintext).equals(plaintext), 'decrypt returned other bytes');
  assert.equal(dec.plaintextCrc32c.value, String(crc32c(plaintext)));
  assert.equal(dec.usedPrimary, true);
  assert.equal(dec.protectionLevel, 'SOFTWARE');

  /* Other AAD: the GCM tag does not verify. */
  const bad = await gaxError(kms.decrypt({ name: ep.kms_sym_key, ciphertext,
    additionalAuthenticatedData: Buffer.from('other aad') }));
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.error, { code: 400, status: 'INVALID_ARGUMENT',
    message: 'Decryption failed: verify that \'name\' refers to the correct CryptoKey.' });
});

test('KMS rejects a request whose CRC32C does not match', async () => {
  const plaintext = Buffer.from('checksummed');
  const bad = await gaxError(kms.encrypt({ name: ep.kms_sym_key, plaintext,
    plaintextCrc32c: { value: (crc32c(plaintext) ^ 1) >>> 0 } }));
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.error, { code: 400, status: 'INVALID_ARGUMENT',
    message: 'The checksum in field plaintext_crc32c did not match the data in field plaintext.' });
});

test('KMS getPublicKey and asymmetricDecrypt of data OAEP-SHA-256 encrypted in Node', async () => {
  const [pk] = await kms.getPublicKey({ name: ep.kms_rsa_key_version });
  assert.equal(pk.name, ep.kms_rsa_key_version);
  assert.equal(pk.algorithm, 'RSA_DECRYPT_OAEP_4096_SHA256');
  assert.equal(pk.protectionLevel, 'SOFTWARE');
  assert.match(pk.pem, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
  assert.equal(pk.pemCrc32c.value, String(crc32c(Buffer.from(pk.pem, 'utf8'))));
  const pub = crypto.createPublicKey(pk.pem);
  assert.equal(pub.asymmetricKeyType, 'rsa');
  assert.equal(pub.asymmetricKeyDetails.modulusLength, 4096);
  /* The emulator's own key material for that version (state dir). */
  const rel = ep.kms_rsa_key_version.split('/');
  const material = crypto.createPublicKey(fs.readFileSync(path.join(env('GEMU_STATE'), 'kms',
    rel[3], rel[5], rel[7], `${rel[9]}.pem`)));
  const spki = (k) => k.export({ type: 'spki', format: 'der' });
  assert.ok(spki(pub).equals(spki(material)), 'getPublicKey is not the version\'s key');

  const dek = crypto.randomBytes(32);
  const ciphertext = crypto.publicEncrypt({
    key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256',
  }, dek);
  const [dec] = await kms.asymmetricDecrypt({
    name: ep.kms_rsa_key_version, ciphertext, ciphertextCrc32c: { value: crc32c(ciphertext) },
  });
  assert.ok(Buffer.from(dec.plaintext).equals(dek), 'asymmetricDecrypt returned other bytes');
  assert.equal(dec.plaintextCrc32c.value, String(crc32c(dek)));
  assert.equal(dec.verifiedCiphertextCrc32c, true);
  assert.equal(dec.protectionLevel, 'SOFTWARE');

  /* OAEP with SHA-1 is not this key's algorithm: the padding check fails. */
  const sha1 = crypto.publicEncrypt({
    key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1',
  }, dek);
  const bad = await gaxError(kms.asymmetricDecrypt({ name: ep.kms_rsa_key_version,
    ciphertext: sha1 }));
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.error, { code: 400, status: 'INVALID_ARGUMENT',
    message: 'Decryption failed: the ciphertext is invalid.' });
});

test('STS refuses a subject token for another audience: invalid_grant', async () => {
  const other = await attestationToken({ audience: WRONG_AUDIENCE, kind: 'ecc', workDir });
  assert.equal(jose.decodeJwt(other).aud, WRONG_AUDIENCE);
  const cred = writeCredential({ dir: workDir, name: 'wrong-aud', subjectToken: other,
    audience: ep.audience, serviceAccount: ep.service_account });
  await assert.rejects(newAuth(cred).getAccessToken(), {
    message: `Error code invalid_grant: The audience in ID Token [${WRONG_AUDIENCE}] does not ` +
      'match the expected audience.',
  });
});

test('STS refuses an unknown provider: invalid_target', async () => {
  const audience = ep.audience.replace(/\/providers\/[^/]+$/, '/providers/no-such-provider');
  assert.notEqual(audience, ep.audience);
  const cred = writeCredential({ dir: workDir, name: 'no-provider', subjectToken, audience,
    serviceAccount: ep.service_account });
  await assert.rejects(newAuth(cred).getAccessToken(), {
    message: 'Error code invalid_target: The target service indicated by the "audience" ' +
      'parameters is invalid. This might either be because the pool or provider is disabled ' +
      'or deleted or because it doesn\'t exist.',
  });
});

test('IAM Credentials refuses a service account that does not bind us: 403', async () => {
  const sa = env('NO_BINDING_SA');
  const cred = writeCredential({ dir: workDir, name: 'no-binding', subjectToken,
    audience: ep.audience, serviceAccount: sa });
  let err;
  await assert.rejects(newAuth(cred).getAccessToken(), (e) => {
    err = e;
    return true;
  });
  assert.ok(err instanceof gaxios.GaxiosError, `unexpected error ${err.stack}`);
  assert.equal(err.status, 403);
  assert.equal(new URL(err.config.url).pathname,
    `/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`);
  assert.deepEqual(err.response.data, { error: {
    code: 403, status: 'PERMISSION_DENIED',
    message: 'Permission \'iam.serviceAccounts.getAccessToken\' denied on resource (or it may ' +
      'not exist).',
    details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'IAM_PERMISSION_DENIED', domain: 'iam.googleapis.com',
      metadata: { permission: 'iam.serviceAccounts.getAccessToken' } }],
  } });
});
