// A real OAuth 2.0 authorization server for the connect-flow tests:
// oauth2-mock-server (npm), on a free loopback port. It checks PKCE
// (code_verifier against the authorize request's code_challenge), issues
// signed JWT access tokens and refresh tokens. Prints `{"port": N}` once
// listening. `--deny` makes /authorize send the user back with
// error=access_denied instead of a code (a user who refuses consent).
import { OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
const deny = process.argv.includes('--deny');
server.service.on('beforeAuthorizeRedirect', (authorizeRedirectUri) => {
  if (deny) {
    const u = authorizeRedirectUri.url;
    u.searchParams.delete('code');
    u.searchParams.set('error', 'access_denied');
    u.searchParams.set('error_description', 'The user refused');
  }
});
server.service.on('beforeResponse', (tokenResponse) => {
  // Tokens expire, as real providers' do.
  tokenResponse.body.expires_in = 3600;
});
await server.start(0, '127.0.0.1');
console.log(JSON.stringify({ port: server.address().port }));
process.on('SIGTERM', async () => { await server.stop(); process.exit(0); });
