// metadata_token.mjs - the real google-auth-library (10.9.1) against gcp-wif's GCE
// metadata-server look-alike (GCE_METADATA_HOST=127.0.0.1:<port>), as an unmodified workload on
// a VM would use it: no credentials file, so GoogleAuth picks the Compute client, probes the
// metadata server (Metadata-Flavor both ways) and takes the broker's tokens.
//   - the access token equals gcp-wif's GET /token on its Unix socket (the same cached token)
//   - project id and the service account e-mail come from the look-alike
//   - an ID token for an audience (IdTokenClient, format=full) is a verifier attestation token
//     for that audience, signed by a key of the verifier's JWKS (fetched under the real host
//     name www.googleapis.com with the emulator's CA)
//
// Environment (wif_interop_test.sh): WIF_SOCKET, GCE_METADATA_HOST, VERIFIER_PORT, PROJECT,
// SERVICE_ACCOUNT, NODE_EXTRA_CA_CERTS.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import test from 'node:test';

import { Compute, GoogleAuth } from 'google-auth-library';
import * as jose from 'jose';

function env(name) {
  const v = process.env[name];
  assert.ok(v !== undefined && v !== '', `environment variable ${name} is not set`);
  return v;
}

/* GET on gcp-wif's Unix socket; resolves to the parsed JSON answer (status 200 required). */
function wifGet(path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: env('WIF_SOCKET'), path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`gcp-wif ${path}: ${res.statusCode} ${body}`));
          return;
        }
        resolve(JSON.parse(body));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/* GET over https with node's own stack (../cloud-dns.cjs resolves, NODE_EXTRA_CA_CERTS trusts). */
function httpsGetJson(url) {
  return new Promise((resolve, reject) => {
    https.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`${url}: ${res.statusCode} ${body}`));
          return;
        }
        resolve(JSON.parse(body));
      });
    }).on('error', reject);
  });
}

assert.equal(process.env.GOOGLE_APPLICATION_CREDENTIALS, undefined,
  'GOOGLE_APPLICATION_CREDENTIALS must not be set: the test is about the metadata server');

const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });

test('GoogleAuth without a credentials file picks the Compute client', async () => {
  const client = await auth.getClient();
  assert.ok(client instanceof Compute, `client is ${client.constructor.name}`);
});

test('the access token is the broker\'s /token', async () => {
  const client = await auth.getClient();
  const { token } = await client.getAccessToken();
  const wif = await wifGet('/token');
  assert.match(token, /^ya29\.gemu\./);
  assert.equal(token, wif.access_token);
  // A request through the client carries it as the Bearer.
  const headers = await client.getRequestHeaders();
  const authz = typeof headers.get === 'function' ? headers.get('authorization')
    : headers.Authorization;
  assert.equal(authz, `Bearer ${wif.access_token}`);
});

test('project id and service account e-mail from the look-alike', async () => {
  assert.equal(await auth.getProjectId(), env('PROJECT'));
  const creds = await auth.getCredentials();
  assert.equal(creds.client_email, env('SERVICE_ACCOUNT'));
});

test('an ID token for an audience is a verifier token for it', async () => {
  const audience = 'https://example.com/wif-interop';
  const idClient = await auth.getIdTokenClient(audience);
  const idToken = await idClient.idTokenProvider.fetchIdToken(audience);
  const jwks = await httpsGetJson(`https://www.googleapis.com:${env('VERIFIER_PORT')}` +
    '/service_accounts/v1/metadata/jwk/signer@confidentialspace-sign.iam.gserviceaccount.com');
  const { payload, protectedHeader } = await jose.jwtVerify(idToken, jose.createLocalJWKSet(jwks), {
    algorithms: ['RS256'],
    issuer: 'https://confidentialcomputing.googleapis.com',
    audience,
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.submods.gce.project_id, env('PROJECT'));
  assert.equal(payload.secboot, true);
});
