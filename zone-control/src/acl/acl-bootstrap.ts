/**
 * Getting the first management token, Consul's way (`agent/consul/leader.go`
 * `initializeACLs`, `acl_endpoint.go` `BootstrapTokens`):
 *
 * - every start makes sure the builtin `global-management` policy and the anonymous token
 *   (no rights until an operator links policies to it) exist;
 * - `--bootstrap-token` is Consul's `initial_management`: a management token with that
 *   SecretID is created when none exists, and that uses up the one-time bootstrap;
 * - without it, `aclBootstrap: "generate"` (the default) makes one at the first start and
 *   logs its SecretID once, at warn; `"api"` leaves the system locked until the first
 *   `PUT /v1/acl/bootstrap`, exactly like a Consul server without `initial_management`;
 * - bootstrap happens once: afterwards the endpoint answers 403 "Permission denied: ACL
 *   bootstrap no longer allowed (reset index: N)". Each step is one transaction guarded by
 *   `check-not-exists`, so zone servers starting together on one store make one token.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError, ConflictError, PermissionDeniedError } from '../../../core/index.ts';
import type { Logger, Store, TxnOp } from '../../../core/index.ts';
import {
  ANONYMOUS_SECRET,
  BOOTSTRAP_KEY,
  GLOBAL_MANAGEMENT_ID,
  GLOBAL_MANAGEMENT_POLICY,
  hashSecret,
  json,
  policyKey,
  policyNameKey,
  readTokenBySecret,
  secretKeyOfHash,
  tokenKey,
} from './acl-records.ts';
import type { Stored, TokenRecord } from './acl-records.ts';
import { ANONYMOUS_TOKEN_ID } from './authorizer.ts';

/** How a zone without `--bootstrap-token` gets its first management token. */
export type AclBootstrapMode = 'generate' | 'api';

function tokenRecord(
  accessorId: string,
  secret: string,
  description: string,
  policyIds: string[],
): TokenRecord {
  return {
    accessorId,
    secretHash: hashSecret(secret),
    description,
    policyIds,
    serviceIdentities: [],
    nodeIdentities: [],
    rules: '',
    local: false,
    createTime: new Date().toISOString(),
  };
}

function writeToken(t: TokenRecord): TxnOp[] {
  return [
    { op: 'check-not-exists', key: secretKeyOfHash(t.secretHash) },
    { op: 'set', key: tokenKey(t.accessorId), value: json(t) },
    { op: 'set', key: secretKeyOfHash(t.secretHash), value: Buffer.from(t.accessorId) },
  ];
}

/** The bootstrap marker, written in the same transaction as the token it records. */
function markBootstrap(accessorId: string): TxnOp[] {
  return [
    { op: 'check-not-exists', key: BOOTSTRAP_KEY },
    { op: 'set', key: BOOTSTRAP_KEY, value: json({ AccessorID: accessorId }) },
  ];
}

async function ensureBuiltins(store: Store): Promise<void> {
  const gm = GLOBAL_MANAGEMENT_POLICY;
  // Each txn fails harmlessly when its record is already there.
  await store.txn([
    { op: 'check-not-exists', key: policyKey(gm.id) },
    { op: 'set', key: policyKey(gm.id), value: json(gm) },
    { op: 'set', key: policyNameKey(gm.name), value: Buffer.from(gm.id) },
  ]);
  await store.txn([
    { op: 'check-not-exists', key: tokenKey(ANONYMOUS_TOKEN_ID) },
    ...writeToken({
      ...tokenRecord(ANONYMOUS_TOKEN_ID, ANONYMOUS_SECRET, 'Anonymous Token', []),
      createTime: '0001-01-01T00:00:00Z',
    }),
  ]);
}

/** Run at every start with ACLs on, before the HTTP API serves. */
export async function initializeAcl(
  store: Store,
  options: { bootstrapToken: string | undefined; aclBootstrap: AclBootstrapMode },
  logger: Logger,
): Promise<void> {
  await ensureBuiltins(store);
  const configured = options.bootstrapToken;
  if (configured !== undefined) {
    if (configured === '' || configured === ANONYMOUS_SECRET) {
      throw new ConfigError(
        'bootstrapToken must be a secret, not empty or "anonymous"',
        'bootstrapToken',
      );
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await readTokenBySecret(store, configured)) return;
      const token = tokenRecord(randomUUID(), configured, 'Initial Management Token', [
        GLOBAL_MANAGEMENT_ID,
      ]);
      const bootstrapped = (await store.get(BOOTSTRAP_KEY)) !== null;
      const result = await store.txn([
        ...writeToken(token),
        ...(bootstrapped ? [] : markBootstrap(token.accessorId)),
      ]);
      if (result.ok) {
        logger.info(
          { accessorId: token.accessorId },
          'created the management token from --bootstrap-token',
        );
        return;
      }
    }
    throw new ConflictError(
      'could not create the --bootstrap-token management token: the store kept changing',
    );
  }
  if (options.aclBootstrap !== 'generate' || (await store.get(BOOTSTRAP_KEY)) !== null) return;
  const secret = randomUUID();
  const token = tokenRecord(randomUUID(), secret, 'Bootstrap Token (Global Management)', [
    GLOBAL_MANAGEMENT_ID,
  ]);
  const result = await store.txn([...markBootstrap(token.accessorId), ...writeToken(token)]);
  // Another zone server on the same store won the race: it logs its token, we log nothing.
  if (!result.ok) return;
  logger.warn(
    { accessorId: token.accessorId },
    `ACLs are on and no --bootstrap-token was given, so a management token was generated. ` +
      `SecretID: ${secret} — save it now: it is shown only this once and stored only as a hash. ` +
      `Send it as X-Consul-Token. If it is lost, restart with --bootstrap-token <secret> to add another.`,
  );
}

/** `PUT /v1/acl/bootstrap`: the one-time management token, or Consul's 403. */
export async function bootstrapViaApi(
  store: Store,
  requestedSecret: string | undefined,
): Promise<{ stored: Stored<TokenRecord>; secretId: string }> {
  const notAllowed = async (): Promise<never> => {
    const marker = await store.get(BOOTSTRAP_KEY);
    throw new PermissionDeniedError(
      `Permission denied: ACL bootstrap no longer allowed (reset index: ${marker?.createIndex ?? 0})`,
    );
  };
  if ((await store.get(BOOTSTRAP_KEY)) !== null) return notAllowed();
  const secretId = requestedSecret ?? randomUUID();
  if (await readTokenBySecret(store, secretId)) {
    throw new ConflictError('Invalid Token: SecretID is already in use', 'BootstrapSecret');
  }
  const token = tokenRecord(randomUUID(), secretId, 'Bootstrap Token (Global Management)', [
    GLOBAL_MANAGEMENT_ID,
  ]);
  const result = await store.txn([...markBootstrap(token.accessorId), ...writeToken(token)]);
  if (!result.ok) {
    if (result.errors.some((e) => e.opIndex === 0)) return notAllowed();
    throw new ConflictError('Invalid Token: SecretID is already in use', 'BootstrapSecret');
  }
  const entry = result.results[3] as { createIndex: number; modifyIndex: number };
  return {
    stored: { record: token, createIndex: entry.createIndex, modifyIndex: entry.modifyIndex },
    secretId,
  };
}
