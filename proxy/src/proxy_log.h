/*
 * proxy_log.h - the proxy's log module tags (PROXY_LOG="all+info,key+debug", STYLE.md rule 35).
 *
 * What the proxy never logs, at any level (polaris-protocol.md §6.6, STYLE.md rule 36): decrypted
 * paths, header names or values, bodies, the client's public key, and any key material. Request
 * lines carry the method, the status, sizes and the duration only.
 */
#pragma once

#define PROXY_LOG_MAIN "main"
#define PROXY_LOG_KEY "key"
#define PROXY_LOG_HTTP "http"
#define PROXY_LOG_FORWARD "forward"
