"""OpenID Connect: discovery, authorization code + PKCE (S256), id-token checks, userinfo.

The id token is verified with PyJWT against the provider's JWKS: the signature (only the
algorithms in GONGDAN_OIDC_ALGS, never ``none`` or a shared-secret HMAC), ``iss``, ``aud`` (and
``azp`` when there are several audiences), ``exp``/``iat`` and the ``nonce`` this site sent.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

import jwt

from engine.i18n import Message
from engine.identity.base import Identity, PendingLogin, Provider, ProviderError, SignInError, provider
from engine.identity.base import Setting as S

#: Asymmetric algorithms only: an HMAC would let anyone who knows the client secret mint tokens.
SAFE_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LEEWAY = 60  # seconds of clock skew allowed on exp / iat
DISCOVERY_TTL = 600.0  # seconds a discovery document and its keys are kept

_DISCOVERY: dict[str, tuple[float, dict[str, Any]]] = {}


def _reason(code: str, **params: Any) -> Message:
    return Message(f"identity.reason.{code}", params)


@provider
class OidcProvider(Provider):
    name = "oidc"
    title: ClassVar[dict[str, str]] = {"zh": "单点登录 (OIDC)", "en": "Single sign-on (OIDC)"}
    settings = (
        S("issuer", help="The issuer URL; its /.well-known/openid-configuration is read."),
        S("client_id"),
        S("client_secret", required=False, secret=True),
        S("scopes", default="openid profile email"),
        S("algs", default="RS256,ES256"),
        S("title", required=False, help="The sign-in button's text."),
    )

    # ------------------------------------------------------------------ discovery and keys
    def discovery(self) -> dict[str, Any]:
        issuer = self.base("issuer")
        cached = _DISCOVERY.get(issuer)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        doc = self.http.call("GET", issuer + "/.well-known/openid-configuration")
        if not isinstance(doc, dict) or doc.get("issuer", "").rstrip("/") != issuer:
            raise ProviderError(
                "identity.bad_answer", name=self.name, url=issuer, reason="the discovery issuer differs"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(key), str):
                raise ProviderError("identity.bad_answer", name=self.name, url=issuer, reason=f"no {key}")
        _DISCOVERY[issuer] = (time.monotonic() + DISCOVERY_TTL, doc)
        return doc

    def _keys(self, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
        body = self.http.call("GET", doc["jwks_uri"])
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list):
            raise ProviderError("identity.bad_answer", name=self.name, url=doc["jwks_uri"], reason="no keys")
        return [k for k in keys if isinstance(k, dict)]

    def _key_for(self, doc: Mapping[str, Any], kid: str | None) -> Any:
        keys = self._keys(doc)
        found = [k for k in keys if kid is None or k.get("kid") == kid]
        if kid is None and len(found) != 1:
            found = []
        if not found:
            raise SignInError(name=self.name, reason=_reason("key", kid=str(kid)[:80]))
        try:
            return jwt.PyJWK(found[0]).key
        except jwt.PyJWTError:
            raise SignInError(name=self.name, reason=_reason("key", kid=str(kid)[:80])) from None

    # ------------------------------------------------------------------ the flow
    def authorize_url(self, pending: PendingLogin, redirect_uri: str) -> str:
        doc = self.discovery()
        query = {
            "response_type": "code",
            "client_id": self.config["client_id"],
            "redirect_uri": redirect_uri,
            "scope": self.config["scopes"],
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.challenge,
            "code_challenge_method": "S256",
        }
        endpoint = doc["authorization_endpoint"]
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(query)

    def finish(self, params: Mapping[str, str], pending: PendingLogin, redirect_uri: str) -> Identity:
        code = self.code_of(params)
        doc = self.discovery()
        tokens = self._exchange(doc, code, pending, redirect_uri)
        claims = self.verify(tokens.get("id_token"), pending.nonce, doc)
        access = tokens.get("access_token")
        if doc.get("userinfo_endpoint") and isinstance(access, str):
            info = self.http.call(
                "GET", doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {access}"}
            )
            if isinstance(info, dict):
                if info.get("sub") != claims["sub"]:
                    raise SignInError(name=self.name, reason=_reason("userinfo"))
                claims = {**info, **claims}
        return Identity(
            provider=self.name,
            subject=str(claims["sub"]),
            name=str(
                claims.get("name") or claims.get("preferred_username") or claims.get("email") or claims["sub"]
            ),
            email=claims.get("email") if claims.get("email_verified", True) is not False else None,
            mobile=claims.get("phone_number"),
            username=claims.get("preferred_username"),
        )

    def _exchange(
        self, doc: Mapping[str, Any], code: str, pending: PendingLogin, redirect_uri: str
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.config["client_id"],
            "code_verifier": pending.verifier,
        }
        auth = None
        secret = self.config.get("client_secret")
        if secret:
            methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            if "client_secret_basic" in methods:
                auth = (self.config["client_id"], secret)
            else:
                form["client_secret"] = secret

        def check(body: Any, url: str) -> None:
            if isinstance(body, dict) and body.get("error"):
                raise SignInError(
                    "identity.provider_refused", name=self.name, error=str(body.get("error"))[:200]
                )

        body = self.http.call("POST", doc["token_endpoint"], data=form, auth=auth, check=check)
        if not isinstance(body, dict):
            raise ProviderError(
                "identity.bad_answer", name=self.name, url=doc["token_endpoint"], reason="not an object"
            )
        return body

    def verify(self, token: Any, nonce: str, doc: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The claims of a verified id token; SignInError saying what is wrong otherwise."""
        doc = doc or self.discovery()
        if not isinstance(token, str) or not token:
            raise SignInError(name=self.name, reason=_reason("missing"))
        allowed = sorted(SAFE_ALGS & {a.strip() for a in self.config["algs"].split(",")})
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise SignInError(name=self.name, reason=_reason("malformed")) from None
        alg = header.get("alg")
        if alg not in allowed:
            raise SignInError(
                name=self.name, reason=_reason("algorithm", alg=str(alg)[:20], allowed=", ".join(allowed))
            )
        key = self._key_for(doc, header.get("kid"))
        client_id = self.config["client_id"]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=client_id,
                issuer=doc["issuer"],
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise SignInError(name=self.name, reason=_reason("expired")) from None
        except jwt.InvalidAudienceError:
            raise SignInError(name=self.name, reason=_reason("audience")) from None
        except jwt.InvalidIssuerError:
            raise SignInError(name=self.name, reason=_reason("issuer")) from None
        except jwt.InvalidSignatureError:
            raise SignInError(name=self.name, reason=_reason("signature")) from None
        except jwt.PyJWTError:
            raise SignInError(name=self.name, reason=_reason("malformed")) from None
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
            raise SignInError(name=self.name, reason=_reason("audience"))
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInError(name=self.name, reason=_reason("nonce"))
        return claims
