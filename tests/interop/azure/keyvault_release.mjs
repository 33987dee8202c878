// keyvault_release.mjs - secure key release with the real SDKs: @azure/identity's
// ManagedIdentityCredential (AZURE_POD_IDENTITY_AUTHORITY_HOST -> the IMDS emulator) and
// @azure/keyvault-keys' KeyClient against https://myvault.vault.azure.net:<port> and
// https://myhsm.managedhsm.azure.net:<port>, with no client options at all: TLS to the test CA,
// the challenge resource check on. The attestation token comes from skr (simulated SEV-SNP chip
// -> the MAA emulator) and carries our own RSA wrapping key, so this process unwraps the
// released key itself and compares it with the key the vault holds.
//
// Environment (azure_interop_test.sh): EMU_STATE, SKR_SOCKET, VAULT_URL, MHSM_URL, POLICY_GOOD,
// POLICY_OTHER, AZURE_POD_IDENTITY_AUTHORITY_HOST, NODE_EXTRA_CA_CERTS.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import test from 'node:test';

import { ManagedIdentityCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';

import {
  MAA_AUTHORITY, b64url, chipFacts, decodeJws, env, maaTokenFromSkr, newWrappingKey,
  unwrapKeyHsm, verifyReleaseJws,
} from './lib.mjs';

const vaultUrl = env('VAULT_URL');
const mhsmUrl = env('MHSM_URL');
const vaultHost = new URL(vaultUrl).hostname;
const mhsmHost = new URL(mhsmUrl).hostname;
const policyGood = fs.readFileSync(env('POLICY_GOOD'));
const policyOther = fs.readFileSync(env('POLICY_OTHER'));
env('AZURE_POD_IDENTITY_AUTHORITY_HOST');

const credential = new ManagedIdentityCredential();
const vault = new KeyClient(vaultUrl, credential);
const mhsm = new KeyClient(mhsmUrl, credential);

const wrapping = newWrappingKey('interop-wrapping-key');
const runtimeClaims = { keys: [wrapping.jwk] };
let maaToken;
let rsaKey;

/* The release policy as the vault echoes it must be the one we gave it. */
function assertPolicy(releasePolicy, text) {
  assert.ok(releasePolicy !== undefined, 'no release policy on the key');
  assert.equal(releasePolicy.immutable, false);
  assert.deepEqual(JSON.parse(Buffer.from(releasePolicy.encodedPolicy).toString('utf8')),
    JSON.parse(text.toString('utf8')));
}

const releasePolicy = (text) => ({
  contentType: 'application/json; charset=utf-8', immutable: false, encodedPolicy: text,
});

test('managed identity: the IMDS emulator issues vault and managed HSM tokens', async () => {
  for (const resource of ['https://vault.azure.net', 'https://managedhsm.azure.net']) {
    const t = await credential.getToken(`${resource}/.default`);
    assert.match(t.token, /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(decodeJws(t.token).payload.aud, resource);
    assert.ok(t.expiresOnTimestamp > Date.now() + 3600 * 1000, 'token expires within an hour');
  }
});

test('skr: an MAA token for the simulated chip carrying our wrapping key', async () => {
  maaToken = await maaTokenFromSkr(runtimeClaims);
  const { header, payload } = decodeJws(maaToken);
  assert.equal(header.alg, 'RS256');
  assert.equal(payload.iss, MAA_AUTHORITY);
  assert.equal(payload['x-ms-attestation-type'], 'sevsnpvm');
  assert.equal(payload['x-ms-compliance-status'], 'azure-compliant-uvm');
  assert.equal(payload['x-ms-sevsnpvm-hostdata'], chipFacts().host_data);
  assert.deepEqual(payload['x-ms-runtime'], runtimeClaims);
});

test('create an exportable RSA-HSM key with a release policy, then get it', async () => {
  const created = await vault.createKey('interop-rsa', 'RSA-HSM', {
    exportable: true, keySize: 3072, keyOps: ['wrapKey', 'unwrapKey', 'encrypt', 'decrypt'],
    releasePolicy: releasePolicy(policyGood),
  });
  assert.equal(created.name, 'interop-rsa');
  assert.equal(created.keyType, 'RSA-HSM');
  assert.equal(created.properties.exportable, true);
  assert.equal(created.properties.enabled, true);
  assert.equal(created.properties.vaultUrl, vaultUrl);
  assert.match(created.id, new RegExp(`^${vaultUrl}/keys/interop-rsa/[0-9a-f]{32}$`));
  assert.deepEqual([...created.keyOperations].sort(),
    ['decrypt', 'encrypt', 'unwrapKey', 'wrapKey']);
  assertPolicy(created.properties.releasePolicy, policyGood);
  assert.equal(created.key.n.length, 384);

  rsaKey = await vault.getKey('interop-rsa');
  assert.equal(rsaKey.id, created.id);
  assert.equal(rsaKey.properties.version, created.properties.version);
  assert.deepEqual(Buffer.from(rsaKey.key.n), Buffer.from(created.key.n));
  assert.deepEqual(Buffer.from(rsaKey.key.e), Buffer.from([1, 0, 1]));
  assert.equal(rsaKey.key.d, undefined, 'getKey returned private material');
  assertPolicy(rsaKey.properties.releasePolicy, policyGood);
});

/* Release, verify the JWS, unwrap; returns the payload and the released key bytes. */
async function releaseAndUnwrap(client, host, name, options) {
  const result = await client.releaseKey(name, maaToken, options);
  assert.deepEqual(Object.keys(result), ['value']);
  const payload = await verifyReleaseJws(result.value, host);
  assert.equal(payload.request.enc, options.algorithm ?? 'CKM_RSA_AES_KEY_WRAP');
  assert.equal(payload.request.nonce, options.nonce);
  const { key } = unwrapKeyHsm(payload.response.key.key.key_hsm, payload.request.enc, wrapping);
  return { payload, key };
}

/* The released PKCS#8 key must be the private half of the vault's public key. */
function assertRsaMatches(pkcs8, jwk) {
  const priv = crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  assert.equal(priv.asymmetricKeyType, 'rsa');
  const got = priv.export({ format: 'jwk' });
  assert.equal(got.n, b64url(jwk.n));
  assert.equal(got.e, b64url(jwk.e));
  /* And it works as that key: a signature verifies with the vault's public key alone. */
  const pub = crypto.createPublicKey({ key: { kty: 'RSA', n: b64url(jwk.n), e: b64url(jwk.e) },
    format: 'jwk' });
  const sig = crypto.sign('sha256', Buffer.from('interop'), priv);
  assert.equal(crypto.verify('sha256', Buffer.from('interop'), pub, sig), true);
}

test('releaseKey (CKM_RSA_AES_KEY_WRAP): the JWS verifies and unwraps to the key', async () => {
  const { payload, key } = await releaseAndUnwrap(vault, vaultHost, 'interop-rsa',
    { nonce: 'interop-nonce-1', algorithm: 'CKM_RSA_AES_KEY_WRAP' });
  assert.equal(payload.request.kid, `${vaultUrl}/keys/interop-rsa`);
  const released = payload.response.key;
  assert.equal(released.key.kid, rsaKey.id);
  assert.equal(released.key.n, b64url(rsaKey.key.n));
  assert.equal(released.key.e, b64url(rsaKey.key.e));
  assert.equal(released.attributes.exportable, true);
  assert.deepEqual(JSON.parse(Buffer.from(released.release_policy.data, 'base64url')),
    JSON.parse(policyGood));
  assertRsaMatches(key, rsaKey.key);
});

test('releaseKey of a named version with RSA_AES_KEY_WRAP_256', async () => {
  const version = rsaKey.properties.version;
  const { payload, key } = await releaseAndUnwrap(vault, vaultHost, 'interop-rsa',
    { nonce: 'interop-nonce-2', algorithm: 'RSA_AES_KEY_WRAP_256', version });
  assert.equal(payload.request.kid, `${vaultUrl}/keys/interop-rsa/${version}`);
  assertRsaMatches(key, rsaKey.key);
});

test('releaseKey against a policy pinning other hostdata: 403 naming the claim', async () => {
  const other = JSON.parse(policyOther);
  const pinned = other.anyOf[0].allOf.find((c) => c.claim === 'x-ms-sevsnpvm-hostdata').equals;
  assert.notEqual(pinned, chipFacts().host_data);
  await vault.createKey('interop-rsa-other', 'RSA-HSM', {
    exportable: true, keySize: 2048, releasePolicy: releasePolicy(policyOther),
  });
  await assert.rejects(vault.releaseKey('interop-rsa-other', maaToken, { nonce: 'n' }), (e) => {
    assert.equal(e.name, 'RestError');
    assert.equal(e.statusCode, 403);
    assert.equal(e.code, 'Forbidden');
    /* The emulator's documented denial text (policies/README.md); the real one is unpublished. */
    assert.equal(e.message, `Key release policy not satisfied for authority '${MAA_AUTHORITY}': ` +
      `claim 'x-ms-sevsnpvm-hostdata' is '${chipFacts().host_data}': ` +
      `condition equals '${pinned}' not met`);
    return true;
  });
});

test('managed HSM: import an oct-HSM key, release it, unwrap the same bytes', async () => {
  const secret = crypto.randomBytes(32);
  const imported = await mhsm.importKey('interop-oct', {
    kty: 'oct-HSM', k: secret, keyOps: ['wrapKey', 'unwrapKey', 'encrypt', 'decrypt'],
  }, { exportable: true, hardwareProtected: true, releasePolicy: releasePolicy(policyGood) });
  assert.equal(imported.keyType, 'oct-HSM');
  assert.equal(imported.properties.exportable, true);
  assert.equal(imported.key.k, undefined, 'importKey echoed the secret');
  assertPolicy(imported.properties.releasePolicy, policyGood);

  const { payload, key } = await releaseAndUnwrap(mhsm, mhsmHost, 'interop-oct',
    { nonce: 'interop-nonce-3', algorithm: 'CKM_RSA_AES_KEY_WRAP' });
  assert.equal(payload.response.key.key.kty, 'oct-HSM');
  assert.equal(payload.response.key.key.kid, imported.id);
  assert.deepEqual(key, secret);
});

test('managed HSM: a created oct-HSM key releases as 32 raw bytes', async () => {
  const created = await mhsm.createKey('interop-oct-created', 'oct-HSM', {
    exportable: true, keySize: 256, releasePolicy: releasePolicy(policyGood),
  });
  assert.equal(created.keyType, 'oct-HSM');
  const { key } = await releaseAndUnwrap(mhsm, mhsmHost, 'interop-oct-created',
    { nonce: 'interop-nonce-4', algorithm: 'RSA_AES_KEY_WRAP_384' });
  assert.equal(key.length, 32);
});
