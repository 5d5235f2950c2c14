/**
 * `causeway zone …`: manage zones through the global control plane's API — create one (and
 * get its zone token), list them with their sync health, issue or rotate tokens, disable,
 * enable and delete. Tokens go to stdout alone (so `$(causeway zone create …)` captures
 * just the token) or to `--output` with mode 0600; everything else goes to stderr.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { CausewayError, ConfigError } from '../../core/src/errors.ts';
import type { ErrorCode } from '../../core/src/errors.ts';
import { parseAddr } from '../../core/src/options/address.ts';
import { formatDuration } from '../../core/src/options/duration.ts';
import type { CliContext } from './context.ts';

const DEFAULT_GLOBAL = 'http://127.0.0.1:7600';
const REQUEST_TIMEOUT_MS = 30_000;

interface ConnectionFlags {
  global?: string;
  tokenFile?: string;
}

interface ZoneJson {
  name: string;
  kind: string;
  enabled: boolean;
  createdAt: string;
  sync: { online: boolean; lastSeen?: string; lagMs?: number };
}

interface TokenJson {
  zone: ZoneJson;
  token: string;
  expiresAt: string;
}

/** Add `zone` and its verbs to `program`. */
export function addZoneCommand(program: Command, ctx: CliContext): void {
  const zone = program
    .command('zone')
    .description('manage zones through the global control plane (causeway run global)');
  const line = (text: string) => ctx.stdout.write(`${text}\n`);
  const note = (text: string) => ctx.stderr.write(`${text}\n`);

  connection(
    zone
      .command('create')
      .description('register a zone and print its zone token (for the zone to join with)')
      .argument('<name>', 'the zone name, a DNS label')
      .requiredOption('--kind <kind>', 'kubernetes or universal')
      .option(
        '--ttl <duration>',
        "token lifetime, 1m to 8760h (default: the global's --zone-token-ttl, 24h)",
      )
      .option('--output <file>', 'write the token to this file (mode 0600) instead of stdout'),
  ).action(
    async (
      name: string,
      flags: ConnectionFlags & { kind: string; ttl?: string; output?: string },
    ) => {
      const answer = await call<TokenJson>(ctx, flags, 'POST', '/api/zones', {
        name,
        kind: flags.kind,
        ...(flags.ttl !== undefined ? { tokenTtl: flags.ttl } : {}),
      });
      await emitToken(ctx, answer, flags.output, `created zone ${name} (${answer.zone.kind})`);
    },
  );

  connection(
    zone
      .command('list')
      .description('list zones with their sync health')
      .option('--json', 'print the API answer as JSON'),
  ).action(async (flags: ConnectionFlags & { json?: boolean }) => {
    const answer = await call<{ zones: ZoneJson[] }>(ctx, flags, 'GET', '/api/zones');
    if (flags.json) {
      line(JSON.stringify(answer));
      return;
    }
    if (answer.zones.length === 0) {
      note('no zones yet; create one with: causeway zone create <name> --kind universal');
      return;
    }
    for (const row of zoneTable(answer.zones, Date.now())) line(row);
  });

  connection(
    zone
      .command('token')
      .description('issue a new token for a zone; --rotate also revokes every older one')
      .argument('<name>')
      .option('--rotate', 'revoke every token issued before this one')
      .option(
        '--ttl <duration>',
        "token lifetime, 1m to 8760h (default: the global's --zone-token-ttl, 24h)",
      )
      .option('--output <file>', 'write the token to this file (mode 0600) instead of stdout'),
  ).action(
    async (
      name: string,
      flags: ConnectionFlags & { rotate?: boolean; ttl?: string; output?: string },
    ) => {
      const answer = await call<TokenJson>(
        ctx,
        flags,
        'POST',
        `/api/zones/${encodeURIComponent(name)}/token`,
        {
          ...(flags.rotate ? { rotate: true } : {}),
          ...(flags.ttl !== undefined ? { ttl: flags.ttl } : {}),
        },
      );
      await emitToken(
        ctx,
        answer,
        flags.output,
        flags.rotate
          ? `rotated the tokens of zone ${name}: older tokens no longer work`
          : `issued a token for zone ${name}`,
      );
    },
  );

  for (const [verb, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    connection(
      zone
        .command(verb)
        .description(
          enabled
            ? 'let a zone connect again'
            : "refuse a zone's tokens and close its sync session (its data stays)",
        )
        .argument('<name>'),
    ).action(async (name: string, flags: ConnectionFlags) => {
      await call<ZoneJson>(ctx, flags, 'PATCH', `/api/zones/${encodeURIComponent(name)}`, {
        enabled,
      });
      line(`${verb}d zone ${name}`);
    });
  }

  connection(
    zone
      .command('delete')
      .description('delete a zone and everything it synced to the global')
      .argument('<name>'),
  ).action(async (name: string, flags: ConnectionFlags) => {
    await call<undefined>(ctx, flags, 'DELETE', `/api/zones/${encodeURIComponent(name)}`);
    line(`deleted zone ${name} and its synced resources`);
  });
}

/** The options every verb shares: where the global is, and the admin token. */
function connection(cmd: Command): Command {
  return cmd
    .option(
      '--global <addr>',
      `the global control plane's HTTP API, URL or host:port (env CAUSEWAY_GLOBAL_ADDR) (default: ${DEFAULT_GLOBAL})`,
    )
    .option('--token-file <file>', 'file holding the admin token (or env CAUSEWAY_ADMIN_TOKEN)');
}

/** `NAME KIND ENABLED ONLINE LAST SEEN LAG` rows, padded into columns. */
export function zoneTable(zones: readonly ZoneJson[], now: number): string[] {
  const rows = [
    ['NAME', 'KIND', 'ENABLED', 'ONLINE', 'LAST SEEN', 'LAG'],
    ...zones.map((z) => [
      z.name,
      z.kind,
      z.enabled ? 'yes' : 'no',
      z.sync.online ? 'yes' : 'no',
      z.sync.lastSeen === undefined ? '-' : ago(Date.parse(z.sync.lastSeen), now),
      z.sync.lagMs === undefined ? '-' : formatDuration(Math.max(0, Math.round(z.sync.lagMs))),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

function ago(at: number, now: number): string {
  if (Number.isNaN(at)) return '-';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  return `${formatDuration(seconds * 1000)} ago`;
}

async function emitToken(
  ctx: CliContext,
  answer: TokenJson,
  output: string | undefined,
  what: string,
): Promise<void> {
  if (output !== undefined) {
    await writeSecretFile(output, `${answer.token}\n`);
    ctx.stderr.write(`${what}; wrote its token to ${output} (expires ${answer.expiresAt})\n`);
  } else {
    ctx.stdout.write(`${answer.token}\n`);
    ctx.stderr.write(`${what}; the token above expires ${answer.expiresAt}\n`);
  }
}

/** The global's base URL from `--global`, `CAUSEWAY_GLOBAL_ADDR` or the default. */
function globalUrl(ctx: CliContext, flags: ConnectionFlags): string {
  const addr = flags.global ?? ctx.env.CAUSEWAY_GLOBAL_ADDR ?? DEFAULT_GLOBAL;
  if (/^https?:\/\//.test(addr)) return addr.replace(/\/+$/, '');
  const { host, port } = parseAddr(
    addr,
    flags.global !== undefined ? '--global' : 'CAUSEWAY_GLOBAL_ADDR',
  );
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function adminToken(ctx: CliContext, flags: ConnectionFlags): Promise<string | undefined> {
  if (flags.tokenFile !== undefined) {
    let text: string;
    try {
      text = await readFile(flags.tokenFile, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read the admin token file ${flags.tokenFile}: ${(err as Error).message}`,
        '--token-file',
      );
    }
    return text.trim();
  }
  const env = ctx.env.CAUSEWAY_ADMIN_TOKEN?.trim();
  return env === '' ? undefined : env;
}

/** One API call; an error answer becomes a CausewayError with the global's code. */
async function call<T>(
  ctx: CliContext,
  flags: ConnectionFlags,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const url = globalUrl(ctx, flags);
  const token = await adminToken(ctx, flags);
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ConfigError(
      `cannot reach the global control plane at ${url} (set --global or CAUSEWAY_GLOBAL_ADDR): ${String((err as { cause?: unknown }).cause ?? err)}`,
      '--global',
    );
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (res.ok) return parsed as T;
  const error = (parsed as { error?: { code?: string; message?: string; field?: string } })?.error;
  const code = (error?.code ?? 'CW_ERR_INTERNAL') as ErrorCode;
  let message = error?.message ?? `the global answered ${res.status}: ${text.trim()}`;
  if (res.status === 401) message += ' (pass --token-file or set CAUSEWAY_ADMIN_TOKEN)';
  // The global's own code, so the exit code follows it: a refused value is a usage error.
  throw new CausewayError(code, message, { field: error?.field });
}

/**
 * Write `text` to `file` readable by its owner only, also when `file` already exists: a
 * fresh 0600 file beside it (`wx`: never one someone prepared) is renamed over it.
 */
async function writeSecretFile(file: string, text: string): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text, { mode: 0o600, flag: 'wx' });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
