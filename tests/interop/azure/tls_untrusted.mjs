// tls_untrusted.mjs - run WITHOUT NODE_EXTRA_CA_CERTS: the same SDK calls must fail certificate
// verification, which shows that the other tests reach the emulators over verified TLS and that
// nothing in the SDKs or in ../cloud-dns.cjs relaxes it.
//
// Environment (azure_interop_test.sh): MAA_URL, VAULT_URL, AZURE_POD_IDENTITY_AUTHORITY_HOST.
import assert from 'node:assert/strict';
import test from 'node:test';

import { AttestationClient } from '@azure/attestation';
import { ManagedIdentityCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';

import { env } from './lib.mjs';

assert.equal(process.env.NODE_EXTRA_CA_CERTS, undefined,
  'run this test without NODE_EXTRA_CA_CERTS (the driver unsets it)');

const untrusted = (e) => {
  assert.equal(e.name, 'RestError');
  assert.equal(e.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  return true;
};

test('AttestationClient refuses the emulator certificate without the test CA', async () => {
  await assert.rejects(new AttestationClient(env('MAA_URL')).getAttestationSigners(), untrusted);
});

test('KeyClient refuses the emulator certificate without the test CA', async () => {
  const client = new KeyClient(env('VAULT_URL'), new ManagedIdentityCredential());
  await assert.rejects(client.getKey('interop-rsa'), untrusted);
});
