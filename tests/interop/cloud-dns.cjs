// cloud-dns.cjs - loaded with `node --require` before any SDK code: resolves the real cloud host
// names to loopback, where the emulators listen, so the unmodified SDKs keep their production
// URLs and verify TLS against the test CA (NODE_EXTRA_CA_CERTS). Nothing else is changed.
'use strict';
const dns = require('node:dns');

const CLOUD_HOSTS = /(^|\.)(vault\.azure\.net|managedhsm\.azure\.net|attest\.azure\.net|googleapis\.com)$/i;
const originalLookup = dns.lookup;

dns.lookup = function cloudLookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  } else if (typeof options === 'number') {
    options = { family: options };
  }
  if (!CLOUD_HOSTS.test(hostname)) {
    return originalLookup.call(dns, hostname, options, callback);
  }
  if (options && options.all) {
    process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
  } else {
    process.nextTick(callback, null, '127.0.0.1', 4);
  }
  return undefined;
};
