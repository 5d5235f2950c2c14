/**
 * `causeway token dataplane`: ask a zone for a dataplane token (one service's token for
 * `causeway run proxy --token-file`) through `POST /api/dataplane-tokens`, and print its
 * secret — or write it to `--output-file` with mode 0600, so it never lands in a shell's
 * scrollback.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { CausewayError, ConfigError } from '../../core/src/errors.ts';
import type { ErrorCode } from '../../core/src/errors.ts';
import { parseAddr } from '../../core/src/options/address.ts';
import type { CliContext } from './context.ts';

interface DataplaneFlags {
  service: string;
  namespace?: string;
  ttl?: string;
  httpAddr?: string;
  token?: string;
  outputFile?: string;
}

interface TokenAnswer {
  accessorId: string;
  secretId: string;
  expiresAt?: string;
}

/** Add `token` and its verbs to `program`. */
export function addTokenCommand(program: Command, ctx: CliContext): void {
  const token = program.command('token').description('issue tokens from a zone control plane');
  token
    .command('dataplane')
    .description('issue a dataplane token for one service (for causeway run proxy --token-file)')
    .requiredOption('--service <name>', 'the service the proxy fronts')
    .option('--namespace <name>', 'the service namespace (default: default)')
    .option('--ttl <duration>', 'expire the token after this long, 1m to 24h (default: never)')
    .option(
      '--http-addr <addr>',
      "the zone's HTTP API (env CAUSEWAY_HTTP_ADDR) (default: 127.0.0.1:8500)",
    )
    .option('--token <secret>', 'an ACL token with acl:write (env CAUSEWAY_TOKEN)')
    .option('--output-file <file>', 'write the secret to this file (mode 0600) instead of stdout')
    .action(async (flags: DataplaneFlags) => {
      const addr = flags.httpAddr ?? ctx.env.CAUSEWAY_HTTP_ADDR ?? '127.0.0.1:8500';
      const url = /^https?:\/\//.test(addr)
        ? addr.replace(/\/+$/, '')
        : (() => {
            const { host, port } = parseAddr(addr, '--http-addr');
            return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
          })();
      const secret = flags.token ?? ctx.env.CAUSEWAY_TOKEN;
      const body: Record<string, string> = { service: flags.service };
      if (flags.namespace !== undefined) body.namespace = flags.namespace;
      if (flags.ttl !== undefined) body.ttl = flags.ttl;
      const answer = await issue(url, secret, body);
      if (flags.outputFile !== undefined) {
        await writeSecretFile(flags.outputFile, `${answer.secretId}\n`);
        ctx.stderr.write(
          `wrote the dataplane token for ${flags.service} to ${flags.outputFile} ` +
            `(accessor ${answer.accessorId}${answer.expiresAt ? `, expires ${answer.expiresAt}` : ''})\n`,
        );
      } else {
        ctx.stdout.write(`${answer.secretId}\n`);
      }
    });
}

/**
 * Write `text` to `file` readable by its owner only, also when `file` already exists:
 * `writeFile`'s `mode` applies only to a file it creates, so an existing 0644 file would
 * keep its mode and now hold the secret. A fresh 0600 file next to it (`wx`: never one
 * someone prepared) is renamed over it, which also means no reader sees half a token.
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

async function issue(
  url: string,
  secret: string | undefined,
  body: Record<string, string>,
): Promise<TokenAnswer> {
  let res: Response;
  try {
    res = await fetch(`${url}/api/dataplane-tokens`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(secret ? { 'X-Consul-Token': secret } : {}),
      },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new ConfigError(
      `cannot reach the zone at ${url}: ${String((err as { cause?: unknown }).cause ?? err)}`,
      '--http-addr',
    );
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (res.status === 201) return parsed as TokenAnswer;
  const error = (parsed as { error?: { code?: string; message?: string; field?: string } })?.error;
  const code = (error?.code ?? 'CW_ERR_INTERNAL') as ErrorCode;
  const message = error?.message ?? `the zone answered ${res.status}: ${text.trim()}`;
  // The zone's own code, so the exit code follows it: a value the zone refused is a usage
  // error (2), anything else a failure (1).
  throw new CausewayError(code, message, { field: error?.field });
}
