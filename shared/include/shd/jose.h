/*
 * jose.h - the JOSE module in one include: JWK (jwk.h), compact JWS with pinned algorithms
 * (jws.h) and JWT claim checks (jwt.h). See docs/internals/JOSE.md.
 */
#pragma once

#include "shd/jwk.h"
#include "shd/jws.h"
#include "shd/jwt.h"
