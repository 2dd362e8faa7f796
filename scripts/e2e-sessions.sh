#!/usr/bin/env bash
# End-to-end run of sessions against the real binary (release build), on SQLite:
#  * a finance tenant and a retail tenant, the same customer set-up and the same evidence
#    (typing sample + a correct PIN), and the different outcomes their policies give;
#  * the retail assertion (EdDSA JWT) verified against /.well-known/jwks.json by PyJWT,
#    an independent implementation (pins in scripts/e2e-requirements.txt).
# Usage: scripts/e2e-sessions.sh [path/to/trustline]   (default: $CARGO_TARGET_DIR/release)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/trustline}
PY=${PYTHON:-/work/pyenv/bin/python}
DIR=$(mktemp -d /tmp/trustline-e2e.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TRUSTLINE_DATA_DIR=$DIR TRUSTLINE_LISTEN=127.0.0.1:$PORT TRUSTLINE_PUBLIC_URL=http://127.0.0.1:$PORT TRUSTLINE_LOG_FORMAT=json
BASE=http://127.0.0.1:$PORT
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

"$BIN" migrate >/dev/null
"$BIN" tenant create --id bank --name "Example Bank" --sector finance
"$BIN" tenant create --id shop --name "Example Shop" --sector retail
key() { "$BIN" api-key create --tenant "$1" --scopes "sessions enrol" --label e2e | sed -n 's/^API key (shown once, store it now): //p'; }
BANK=$(key bank); SHOP=$(key shop)
"$BIN" serve > "$DIR/serve.log" 2>&1 & PID=$!
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done

call() { # method path key [json]
  curl -s -X "$1" "$BASE$2" -H "authorization: Bearer $3" -H 'content-type: application/json' ${4:+-d "$4"}
}

for T in bank shop; do
  K=$([ $T = bank ] && echo "$BANK" || echo "$SHOP")
  echo "== tenant $T: register customer c-100 (typing, code factors), PIN"
  call PUT /v1/customers/c-100 "$K" '{"methods":["typing"]}' | jq -c '{customer_ref, methods}'
  curl -s -o /dev/null -w 'PUT pin -> %{http_code}\n' -X PUT "$BASE/v1/customers/c-100/factors/pin" \
    -H "authorization: Bearer $K" -H 'content-type: application/json' -d '{"pin":"493817"}'
  call POST /v1/customers/c-100/factors/recovery_codes "$K" | jq -c '{recovery_codes: (.codes | length)}'
done

for T in bank shop; do
  K=$([ $T = bank ] && echo "$BANK" || echo "$SHOP")
  echo "== tenant $T: POST /v1/sessions (chat, typing sample), then the PIN"
  S=$(call POST /v1/sessions "$K" '{"customer_ref":"c-100","channel":"chat","evidence":{"keystroke_free":{"events":[[0,95,2],[180,88,1]]}}}')
  echo "$S" | jq -c '{session_id, outcome: .decision.outcome, step_up: .decision.step_up, reasons: .decision.reasons, policy: .decision.policy}'
  SID=$(echo "$S" | jq -r .session_id)
  R=$(call POST "/v1/sessions/$SID/factors/pin" "$K" '{"code":"493817"}')
  echo "$R" | jq -c '{outcome: .decision.outcome, assurance: .decision.assurance, acr: .decision.acr, amr: .decision.amr, step_up: .decision.step_up, reasons: .decision.reasons, policy: .decision.policy.id, assertion: (.assertion != null)}'
  [ $T = shop ] && TOKEN=$(echo "$R" | jq -r .assertion) && SHOP_SID=$SID
done

echo "== handoff of the retail session to video (video needs an active factor; the PIN travels)"
call POST "/v1/sessions/$SHOP_SID/handoff" "$SHOP" '{"channel":"video"}' | jq -c '{outcome: .decision.outcome, assurance: .decision.assurance, handoff_from}'
echo "== bad input"
call POST /v1/sessions "$SHOP" '{"customer_ref":"c-100","channel":"fax"}' | jq -c '{status, code, detail}'
call GET "/v1/sessions/$SHOP_SID" "$BANK" | jq -c '{status, code}'

echo "== discovery document"
curl -s "$BASE/.well-known/openid-configuration" | jq -c '{issuer, jwks_uri, id_token_signing_alg_values_supported, acr_values_supported, amr_values_supported}'
echo "== the retail assertion verified by PyJWT against the JWKS"
curl -s "$BASE/.well-known/jwks.json" > "$DIR/jwks.json"
TOKEN="$TOKEN" JWKS="$DIR/jwks.json" "$PY" - <<'PYEOF'
import json, os, jwt
token, jwks = os.environ["TOKEN"], json.load(open(os.environ["JWKS"]))
header = jwt.get_unverified_header(token)
key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
public = jwt.PyJWK.from_dict(key)
claims = jwt.decode(token, public.key, algorithms=["EdDSA"], audience="shop",
                    options={"require": ["exp", "iat", "sub", "aud"]})
print("PyJWT", jwt.__version__, "header", json.dumps(header))
print("verified claims", json.dumps(claims, sort_keys=True))
tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
try:
    jwt.decode(tampered, public.key, algorithms=["EdDSA"], audience="shop")
    print("TAMPERED TOKEN ACCEPTED"); raise SystemExit(1)
except jwt.InvalidSignatureError as e:
    print("tampered token rejected:", type(e).__name__)
PYEOF
