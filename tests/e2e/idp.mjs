// A real OpenID provider (the certified `oidc-provider` package) on loopback, configured for
// the end-to-end tests: two confidential clients (console, privacy centre), an RSA signing key
// generated at start, and a few accounts whose claims the tests rely on.
//
// Usage: node idp.mjs <port> <trustline public URL>
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, trustline] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

// The accounts: login name -> claims. Password is not checked by the dev login form.
export const ACCOUNTS = {
  alice: { roles: ['compliance_officer'] },
  admin: { roles: ['tenant_admin', 'compliance_officer'] },
  bob: {}, // staff with no role claim at all
  agent: { roles: ['agent'] }, // a contact-centre agent: the session's live view, no console
  carol: { customer_ref: 'C-1001' },
  dave: { customer_ref: 'C-2002' },
};

const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
jwk.kid = 'e2e-rs256';
jwk.use = 'sig';
jwk.alg = 'RS256';

const client = (id) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  redirect_uris: [`${trustline}/auth/callback`],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  clients: [client('trustline-console'), client('trustline-privacy')],
  jwks: { keys: [jwk] },
  cookies: { keys: ['e2e-cookie-key'] },
  // Custom claims go into the ID token itself (trustline reads them from there).
  conformIdTokenClaims: false,
  claims: { openid: ['sub', 'roles', 'customer_ref'] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = ACCOUNTS[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
