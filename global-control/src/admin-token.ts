/**
 * The admin token the global's HTTP API asks for (without `--dev`), like Kuma's admin user
 * token: one secret that manages zones. Where it comes from, in order:
 *
 * 1. `CAUSEWAY_ADMIN_TOKEN`, or the file `--admin-token-file` names — every replica is
 *    given the same one; it replaces any generated token;
 * 2. otherwise one generated at the first start. The store keeps only its SHA-256
 *    (`admin/token`, created with check-and-set, so two replicas starting together agree
 *    on one). The secret goes to `<data-dir>/admin-token` (mode 0600) when the embedded
 *    store has a data directory, and is logged once otherwise (a Redis store or a store in
 *    memory), as a zone logs its bootstrap ACL token. If it is lost, restart with
 *    `--admin-token-file`.
 *
 * Presented tokens are hashed and compared in constant time with the expected hash, so
 * neither the comparison's time nor its length check tells anything about the secret.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, CorruptDataError, PermissionDeniedError } from '../../core/index.ts';
import type { Logger, Store } from '../../core/index.ts';
import { UnauthenticatedError } from './http/errors.ts';
import type { ResolvedGlobalOptions } from './options.ts';

/** `admin/token` → {@link AdminTokenRecord}. */
export const ADMIN_TOKEN_KEY = 'admin/token';
/** The generated token's file inside the data directory. */
export const ADMIN_TOKEN_FILE = 'admin-token';
const MIN_TOKEN_LENGTH = 16;

export interface AdminTokenRecord {
  /** SHA-256 of the token, hex. */
  sha256: string;
  createdAt: string;
}

/** Who may use the API. */
export interface AdminAuth {
  /** `dev`: nothing is checked; `provided`: the operator's token; `generated`: ours. */
  readonly mode: 'dev' | 'provided' | 'generated';
  /**
   * @throws UnauthenticatedError when no token was presented; PermissionDeniedError when
   *   it is not the admin token.
   */
  check(presented: string | undefined): void;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

function checker(mode: AdminAuth['mode'], expected: Buffer): AdminAuth {
  return {
    mode,
    check(presented) {
      if (presented === undefined || presented === '') {
        throw new UnauthenticatedError(
          'this API needs the admin token: send "Authorization: Bearer <token>" or "X-Causeway-Token: <token>" (see docs/global-control.md, "Admin token")',
        );
      }
      if (!timingSafeEqual(sha256(presented), expected)) {
        throw new PermissionDeniedError('the token presented is not the admin token');
      }
    },
  };
}

const DEV: AdminAuth = { mode: 'dev', check: () => undefined };

/**
 * The operator's admin token (`CAUSEWAY_ADMIN_TOKEN` or `--admin-token-file`), read and
 * checked before anything else starts; undefined when none was given or with `--dev`.
 *
 * @throws ConfigError for an unreadable file or a token too short to be a secret.
 */
export async function readProvidedAdminToken(
  options: ResolvedGlobalOptions,
): Promise<string | undefined> {
  return options.dev ? undefined : providedToken(options);
}

/** Decide how the API authenticates, generating the token at a first start. */
export async function resolveAdminAuth(
  options: ResolvedGlobalOptions,
  provided: string | undefined,
  store: Store,
  logger: Logger,
): Promise<AdminAuth> {
  if (options.dev) return DEV;
  if (provided !== undefined) return checker('provided', sha256(provided));
  const existing = await store.get(ADMIN_TOKEN_KEY);
  if (existing !== null) {
    const record = decodeRecord(existing.value);
    await warnIfFileDiffers(options, record, logger);
    logger.info(
      { createdAt: record.createdAt, file: tokenFile(options) },
      'the API needs the admin token generated at the first start',
    );
    return checker('generated', Buffer.from(record.sha256, 'hex'));
  }
  return generate(options, store, logger);
}

async function providedToken(options: ResolvedGlobalOptions): Promise<string | undefined> {
  let token: string;
  let source: string;
  if (options.adminToken !== undefined) {
    token = options.adminToken.trim();
    source = 'CAUSEWAY_ADMIN_TOKEN';
  } else if (options.adminTokenFile !== undefined) {
    source = `the admin token file ${options.adminTokenFile}`;
    try {
      token = (await readFile(options.adminTokenFile, 'utf8')).trim();
    } catch (err) {
      throw new ConfigError(`cannot read ${source}: ${(err as Error).message}`, 'adminTokenFile');
    }
  } else {
    return undefined;
  }
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(
      `${source} must hold one token of at least ${MIN_TOKEN_LENGTH} characters without spaces (make one with: openssl rand -base64 32)`,
      options.adminToken !== undefined ? 'adminToken' : 'adminTokenFile',
    );
  }
  return token;
}

/** The file a generated token is written to: only for the embedded store with a data dir. */
function tokenFile(options: ResolvedGlobalOptions): string | undefined {
  const store = options.store?.trim() ?? '';
  const embedded = store === '' || store.startsWith('embedded');
  return embedded && options.dataDir !== undefined
    ? join(options.dataDir, ADMIN_TOKEN_FILE)
    : undefined;
}

async function generate(
  options: ResolvedGlobalOptions,
  store: Store,
  logger: Logger,
): Promise<AdminAuth> {
  const secret = randomBytes(32).toString('base64url');
  const hash = sha256(secret);
  const record: AdminTokenRecord = {
    sha256: hash.toString('hex'),
    createdAt: new Date().toISOString(),
  };
  const file = tokenFile(options);
  // Write the secret beside the file first, so the token is never stored without a copy
  // an operator can read.
  const temp = file === undefined ? undefined : `${file}.${randomBytes(6).toString('hex')}.tmp`;
  if (temp !== undefined) {
    await mkdir(options.dataDir as string, { recursive: true });
    await writeFile(temp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  }
  const put = await store.put(ADMIN_TOKEN_KEY, Buffer.from(JSON.stringify(record)), { cas: 0 });
  if (!put.ok) {
    // Another replica generated one first: it logged it; use its hash.
    if (temp !== undefined) await rm(temp, { force: true });
    const current = put.current;
    if (current === null) throw new CorruptDataError(`${ADMIN_TOKEN_KEY} vanished while created`);
    return checker('generated', Buffer.from(decodeRecord(current.value).sha256, 'hex'));
  }
  if (temp !== undefined && file !== undefined) {
    await rename(temp, file);
    logger.warn(
      { file },
      `no admin token was given, so one was generated: it is in ${file} (mode 0600). ` +
        'Send it as "Authorization: Bearer <token>", or point causeway zone … --token-file at it.',
    );
  } else {
    logger.warn(
      `no admin token was given, so one was generated: ${secret} — save it now: it is shown ` +
        'only this once and stored only as a hash. Send it as "Authorization: Bearer <token>". ' +
        'If it is lost, restart with --admin-token-file (or CAUSEWAY_ADMIN_TOKEN) to set another.',
    );
  }
  return checker('generated', hash);
}

async function warnIfFileDiffers(
  options: ResolvedGlobalOptions,
  record: AdminTokenRecord,
  logger: Logger,
): Promise<void> {
  const file = tokenFile(options);
  if (file === undefined || !existsSync(file)) return;
  const text = (await readFile(file, 'utf8')).trim();
  if (sha256(text).toString('hex') !== record.sha256) {
    logger.warn(
      { file },
      'the admin token in this file is not the one the store accepts; use --admin-token-file to set one',
    );
  }
}

function decodeRecord(raw: Buffer): AdminTokenRecord {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new CorruptDataError(`${ADMIN_TOKEN_KEY} is not JSON`, err);
  }
  const r = value as Partial<AdminTokenRecord> | null;
  if (typeof r?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.sha256)) {
    throw new CorruptDataError(`${ADMIN_TOKEN_KEY} has no valid sha256`);
  }
  return { sha256: r.sha256, createdAt: String(r.createdAt) };
}
