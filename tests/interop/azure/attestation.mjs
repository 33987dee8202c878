// attestation.mjs - @azure/attestation 1.0.0 against the MAA emulator under a real MAA host
// name (https://sharedeus.eus.attest.azure.net:<port>, test CA, no allowInsecureConnection).
//
// The SDK has no SEV-SNP attest call and does not export its token validator
// (real-clients.md §1.4), so the SNP token comes from skr and is checked against the signers
// the SDK itself parsed from /certs: with jose (RS256 pinned, issuer checked) and with the very
// call the SDK's AttestationTokenImpl.getTokenProblems makes (jsrsasign's JWS.verify with
// signer.certificates[0], from the SDK's own dependency tree).
//
// Environment (azure_interop_test.sh): EMU_STATE, SKR_SOCKET, MAA_URL, NODE_EXTRA_CA_CERTS.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import test from 'node:test';

import { AttestationClient } from '@azure/attestation';
import * as jose from 'jose';

import { MAA_AUTHORITY, chipFacts, decodeJws, env, maaTokenFromSkr, newWrappingKey }
  from './lib.mjs';

const maaUrl = env('MAA_URL');
const client = new AttestationClient(maaUrl);
/* jsrsasign as @azure/attestation resolves it (its own dependency, pinned by the lock file). */
const sdkRequire = createRequire(createRequire(import.meta.url).resolve('@azure/attestation'));
const jsrsasign = sdkRequire('jsrsasign');

const wrapping = newWrappingKey('interop-attestation-key');
const runtimeClaims = { keys: [wrapping.jwk] };
let signers;
let token;

/* Flip one bit in the signature part: a token no signer may accept. */
function tamper(jws) {
  const [h, p, s] = jws.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length - 1] ^= 0x01;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

test('getAttestationSigners: the emulator signing certificate, parsed by the SDK', async () => {
  signers = await client.getAttestationSigners();
  assert.equal(signers.length, 1);
  const [signer] = signers;
  assert.match(signer.keyId, /^[\w-]{43}$/);
  assert.equal(signer.certificates.length, 1);
  const cert = new crypto.X509Certificate(signer.certificates[0]);
  const state = new crypto.X509Certificate(
    fs.readFileSync(path.join(env('EMU_STATE'), 'maa-signing.pem')));
  assert.equal(cert.fingerprint256, state.fingerprint256);
  assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
  const now = Date.now();
  assert.ok(Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo));
  /* The same document as raw /certs, over the same TLS trust. */
  const raw = await (await fetch(`${maaUrl}/certs`)).json();
  assert.deepEqual(raw.keys.map((k) => k.kid), [signer.keyId]);
  assert.deepEqual(Object.keys(raw.keys[0]).sort(), ['kid', 'kty', 'x5c']);
});

test('getOpenIdMetadata: issuer and jwks_uri name the host the client used', async () => {
  const meta = await client.getOpenIdMetadata();
  const host = new URL(maaUrl).host;
  assert.equal(meta.issuer, `https://${host}`);
  assert.equal(meta.jwks_uri, `https://${host}/certs`);
});

test('the SNP token from skr verifies with the signers from the SDK', async () => {
  token = await maaTokenFromSkr(runtimeClaims);
  const { header } = decodeJws(token);
  assert.deepEqual(header, {
    alg: 'RS256', jku: `${MAA_AUTHORITY}/certs`, kid: signers[0].keyId, typ: 'JWT',
  });
  const key = await jose.importX509(signers[0].certificates[0], 'RS256');
  const { payload } = await jose.jwtVerify(token, key,
    { algorithms: ['RS256'], issuer: MAA_AUTHORITY, typ: 'JWT' });
  const chip = chipFacts();
  assert.equal(payload['x-ms-attestation-type'], 'sevsnpvm');
  assert.equal(payload['x-ms-compliance-status'], 'azure-compliant-uvm');
  assert.equal(payload['x-ms-sevsnpvm-hostdata'], chip.host_data);
  assert.equal(payload['x-ms-sevsnpvm-launchmeasurement'], chip.measurement);
  assert.equal(payload['x-ms-sevsnpvm-is-debuggable'], false);
  assert.equal(payload['x-ms-sevsnpvm-vmpl'], 0);
  assert.equal(payload['x-ms-ver'], '1.0');
  assert.deepEqual(payload['x-ms-runtime'], runtimeClaims);
  assert.equal(payload.exp - payload.iat, 8 * 3600);
  assert.ok(payload.nbf <= Math.ceil(Date.now() / 1000));
});

test('the check the SDK applies (jsrsasign JWS.verify with x5c[0]) accepts it', () => {
  const cert = signers[0].certificates[0];
  assert.equal(jsrsasign.KJUR.jws.JWS.verify(token, cert, ['RS256']), true);
  assert.equal(jsrsasign.KJUR.jws.JWS.verify(tamper(token), cert, ['RS256']), false);
});

test('a token with one flipped signature bit fails jose verification', async () => {
  const key = await jose.importX509(signers[0].certificates[0], 'RS256');
  await assert.rejects(jose.compactVerify(tamper(token), key, { algorithms: ['RS256'] }),
    (e) => {
      assert.equal(e.code, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      return true;
    });
});

test('a host name the certificate does not cover is refused', async () => {
  const u = new URL(maaUrl);
  const other = new AttestationClient(`https://x.${u.hostname}:${u.port}`);
  await assert.rejects(other.getAttestationSigners(), (e) => {
    assert.equal(e.name, 'RestError');
    assert.equal(e.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    return true;
  });
});
