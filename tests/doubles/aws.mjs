// AWS double (IAM's Query API, and any other service path): every request
// must carry a valid Signature Version 4, checked with the `aws4` package
// (the signer the AWS SDK for JavaScript v2 ecosystem uses) over exactly the
// headers the request says it signed. Access keys are registered with
// POST /__control/keys {"access_key","secret_key"}.

import aws4 from 'aws4';
import { controlBody, controlReply } from './common.mjs';

const MAX_SKEW_MS = 5 * 60 * 1000;
const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

const json = (ctx, status, body) => ctx.send(status, body, { 'content-type': 'application/json' });
const awsError = (ctx, status, code, message) => json(ctx, status, { Error: { Code: code, Message: message }, RequestId: 'double' });

function amzDateMs(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

/** The verified scope {access_key, region, service}, or an error reply already sent. */
function verify(ctx) {
  const m = AUTH_RE.exec(ctx.headers.authorization || '');
  if (!m) return awsError(ctx, 403, 'MissingAuthenticationToken', 'Request is missing a valid SigV4 Authorization header.');
  const [, accessKey, day, region, service, signedHeaders, signature] = m;
  const secret = ctx.state.data.keys.get(accessKey);
  if (!secret) return awsError(ctx, 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
  const amzDate = ctx.headers['x-amz-date'];
  const at = amzDateMs(amzDate);
  if (Number.isNaN(at) || !amzDate.startsWith(day) || Math.abs(Date.now() - at) > MAX_SKEW_MS) {
    return awsError(ctx, 403, 'RequestExpired', 'Request has expired or x-amz-date is missing.');
  }
  const headers = {};
  for (const name of signedHeaders.split(';')) {
    if (ctx.headers[name] === undefined) return awsError(ctx, 403, 'SignatureDoesNotMatch', `signed header ${name} is missing`);
    headers[name] = ctx.headers[name];
  }
  const query = ctx.searchParams.toString();
  const signer = new aws4.RequestSigner(
    {
      host: headers.host,
      method: ctx.method,
      path: ctx.path + (query ? `?${query}` : ''),
      headers,
      body: ctx.rawBody || undefined,
      service,
      region,
      doNotModifyHeaders: true,
    },
    { accessKeyId: accessKey, secretAccessKey: secret, sessionToken: headers['x-amz-security-token'] },
  );
  signer.datetime = amzDate;
  signer.sign();
  if (!signer.request.headers.Authorization.endsWith(`Signature=${signature}`)) {
    return awsError(ctx, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
  return { accessKey, region, service };
}

async function handle(ctx) {
  const who = verify(ctx);
  if (!who || ctx.res.headersSent) return;
  if (ctx.query.Action === 'ListUsers') {
    return json(ctx, 200, {
      ListUsersResponse: {
        ListUsersResult: { Users: [{ UserName: 'alice', UserId: 'AIDADOUBLE1' }], IsTruncated: false },
        ResponseMetadata: { RequestId: 'double' },
      },
    });
  }
  return json(ctx, 200, { ...who, method: ctx.method, path: ctx.path, query: ctx.query, body: ctx.rawBody });
}

export default function aws() {
  return {
    name: 'aws',
    configDefaults: {},
    reset(state) {
      state.data = { keys: new Map() };
    },
    handle,
    failure: () => ({ headers: { 'content-type': 'application/json' }, body: { Error: { Code: 'Throttling', Message: 'Rate exceeded' } } }),
    control: {
      'POST /__control/keys': (ctx) => {
        const b = controlBody(ctx);
        if (!b) return;
        if (typeof b.access_key !== 'string' || typeof b.secret_key !== 'string') {
          return controlReply(ctx, 400, { error: '"access_key" and "secret_key" must be strings' });
        }
        ctx.state.data.keys.set(b.access_key, b.secret_key);
        controlReply(ctx, 200, { ok: true });
      },
    },
  };
}
