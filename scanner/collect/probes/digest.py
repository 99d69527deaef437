"""HTTP Digest authentication (RFC 7616, with RFC 2617's MD5 and qop=auth), for the opt-in
authenticated checks only. Both sides live here: the client's answer, and the check the lab's
emulated devices use to verify it."""

from __future__ import annotations

import hashlib
import os
import re

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def parse_challenge(header: str) -> dict[str, str] | None:
    """The parameters of a ``WWW-Authenticate: Digest ...`` header; None for another scheme."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(rest)}


def _offers_auth(params: dict[str, str]) -> bool:
    """The server offers qop=auth (``qop="auth-int, auth"``: options separated by commas and spaces)."""
    return "auth" in [q.strip() for q in (params.get("qop") or "").split(",")]


def _h(algorithm: str, text: str) -> str:
    return _HASHES[algorithm](text.encode("utf-8")).hexdigest()


def response(params: dict[str, str], method: str, uri: str, username: str, password: str, cnonce: str, nc: str) -> str:
    algorithm = (params.get("algorithm") or "MD5").upper()
    if algorithm not in _HASHES:
        raise ValueError(f"unsupported digest algorithm {algorithm[:20]!r}")
    ha1 = _h(algorithm, f"{username}:{params.get('realm', '')}:{password}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    nonce = params.get("nonce", "")
    if _offers_auth(params):
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


def authorization(challenge: str, method: str, uri: str, username: str, password: str) -> str:
    """The ``Authorization`` header answering ``challenge`` (the server's WWW-Authenticate value)."""
    params = parse_challenge(challenge)
    if params is None:
        raise ValueError("the device does not ask for HTTP Digest authentication")
    cnonce, nc = os.urandom(8).hex(), "00000001"
    digest = response(params, method, uri, username, password, cnonce, nc)
    parts = [f'username="{username}"', f'realm="{params.get("realm", "")}"', f'nonce="{params.get("nonce", "")}"',
             f'uri="{uri}"', f'response="{digest}"']
    if params.get("algorithm"):
        parts.append(f"algorithm={params['algorithm']}")
    if params.get("opaque") is not None:
        parts.append(f'opaque="{params["opaque"]}"')
    if _offers_auth(params):
        parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    return "Digest " + ", ".join(parts)


def verify(header: str, method: str, realm: str, nonce: str, username: str, password: str) -> bool:
    """True when ``header`` (an Authorization value) proves knowledge of the password (lab side)."""
    params = parse_challenge(header)
    if params is None or params.get("username") != username or params.get("nonce") != nonce:
        return False
    challenge = {"realm": realm, "nonce": nonce, "qop": params.get("qop", ""), "algorithm": params.get("algorithm", "MD5")}
    try:
        expected = response(challenge, method, params.get("uri", ""), username, password,
                            params.get("cnonce", ""), params.get("nc", ""))
    except ValueError:
        return False
    return expected == params.get("response")
