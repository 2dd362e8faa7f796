#!/usr/bin/env python3
"""A software WebAuthn authenticator plus client, for trustline's passkey tests.

It plays the phone: it answers the options trustline's endpoints return (the JSON the page's
script would pass to navigator.credentials.create/get) with the JSON the script would send
back. The WebAuthn structures (authenticator data, "none" attestation object, client data,
COSE key) come from python-fido2 (Yubico, PyPI); the P-256 key and signature from
cryptography. The authenticator reports user verification (as a phone's screen lock does),
which webauthn-rs requires of passkeys.

One JSON request on stdin, one JSON answer on stdout:
  {"op": "create", "options": {...}, "origin": "https://…", "device": null}
  {"op": "get",    "options": {...}, "origin": "https://…", "device": {...}}
Optional knobs for the bad-input tests: "rp_id" (sign for another RP id), "uv": false (no
user verification), "counter" (report this signature counter), "challenge" (answer another
challenge, base64url). The answer is {"credential": {...}, "device": {...}}; the device state
(credential id, private key, RP id, user handle, counter) is kept by the caller between calls.
"""

import base64
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import sha256
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")


def flags(uv):
    f = AuthenticatorData.FLAG.UP
    if uv:
        f |= AuthenticatorData.FLAG.UV
    return f


def create(req):
    pk = req["options"]["publicKey"]
    if not any(p["alg"] == -7 for p in pk["pubKeyCredParams"]):
        raise SystemExit("ES256 not offered")
    rp_id = req.get("rp_id") or pk["rp"]["id"]
    key = ec.generate_private_key(ec.SECP256R1())
    cred_id = os.urandom(32)
    excluded = {c["id"] for c in pk.get("excludeCredentials") or []}
    device = req.get("device")
    if device and device["credential_id"] in excluded:
        raise SystemExit("InvalidStateError: this authenticator holds an excluded credential")
    attested = AttestedCredentialData.create(
        b"\0" * 16, cred_id, ES256.from_cryptography_key(key.public_key())
    )
    auth_data = AuthenticatorData.create(
        sha256(rp_id.encode()), flags(req.get("uv", True)) | AuthenticatorData.FLAG.AT, 0, attested
    )
    client_data = CollectedClientData.create(
        "webauthn.create", b64d(req.get("challenge") or pk["challenge"]), req["origin"]
    )
    att = AttestationObject.create("none", auth_data, {})
    device = {
        "credential_id": b64e(cred_id),
        "private_key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
        "rp_id": rp_id,
        "user_handle": pk["user"]["id"],
        "sign_count": 0,
    }
    credential = {
        "id": b64e(cred_id),
        "rawId": b64e(cred_id),
        "type": "public-key",
        "extensions": {},
        "response": {
            "attestationObject": b64e(bytes(att)),
            "clientDataJSON": b64e(bytes(client_data)),
        },
    }
    return {"credential": credential, "device": device}


def get(req):
    pk = req["options"]["publicKey"]
    device = req["device"]
    allowed = [c["id"] for c in pk.get("allowCredentials") or []]
    if allowed and device["credential_id"] not in allowed and not req.get("ignore_allow_list"):
        raise SystemExit("NotAllowedError: no allowed credential on this authenticator")
    rp_id = req.get("rp_id") or pk["rpId"]
    device["sign_count"] = req.get("counter", device["sign_count"] + 1)
    auth_data = AuthenticatorData.create(
        sha256(rp_id.encode()), flags(req.get("uv", True)), device["sign_count"]
    )
    client_data = CollectedClientData.create(
        "webauthn.get", b64d(req.get("challenge") or pk["challenge"]), req["origin"]
    )
    key = serialization.load_pem_private_key(device["private_key"].encode(), None)
    signature = key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
    credential = {
        "id": device["credential_id"],
        "rawId": device["credential_id"],
        "type": "public-key",
        "extensions": {},
        "response": {
            "authenticatorData": b64e(bytes(auth_data)),
            "clientDataJSON": b64e(bytes(client_data)),
            "signature": b64e(signature),
            "userHandle": device["user_handle"],
        },
    }
    return {"credential": credential, "device": device}


def main():
    req = json.load(sys.stdin)
    out = {"create": create, "get": get}[req["op"]](req)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
