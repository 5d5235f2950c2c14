/**
 * Redis connection URLs → ioredis options.
 *
 * - `redis://[user:pass@]host[:port][/db]` and `rediss://…` (TLS)
 * - `redis-sentinel://[pass@]host1:port1,host2:port2/<masterName>[?db=N]`
 * - `redis-cluster://[pass@]host1:port1,host2:port2`
 *
 * A userinfo without a colon is a password (Redis before 6 had no user names). Characters
 * such as `?` or `#` in a password must be percent-encoded; `@` and `/` need not be, because
 * the userinfo ends at the last `@`.
 */
import { isIP } from 'node:net';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { ConfigError } from '../../errors.ts';
import { redactUrlSecrets } from '../../options/redact.ts';

export interface RedisNode {
  host: string;
  port: number;
}

/** What to hand ioredis, plus a password-free description for logs and errors. */
export type RedisConnectionSpec =
  | { mode: 'standalone'; options: RedisOptions; address: string }
  | { mode: 'sentinel'; options: RedisOptions; address: string }
  | { mode: 'cluster'; nodes: RedisNode[]; options: ClusterOptions; address: string };

const schemes = ['redis', 'rediss', 'redis-sentinel', 'redis-cluster'] as const;
type Scheme = (typeof schemes)[number];

// RFC 1123 host names; IP literals are checked with isIP.
const hostname =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * Parse a Redis URL into ioredis options.
 *
 * @throws ConfigError (field `url`) naming what is wrong; the message never shows the password.
 */
export function parseRedisUrl(url: string): RedisConnectionSpec {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new ConfigError('the Redis URL is empty', 'url');
  }
  const text = url.trim();
  const fail = (problem: string): never => {
    throw new ConfigError(`invalid Redis URL "${redactUrlSecrets(text)}": ${problem}`, 'url');
  };
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(text);
  const scheme = match?.[1]?.toLowerCase();
  if (match === null || !schemes.includes(scheme as Scheme)) {
    return fail('use redis://, rediss://, redis-sentinel:// or redis-cluster://');
  }
  const rest = match[2] ?? '';
  const q = rest.indexOf('?');
  const beforeQuery = q === -1 ? rest : rest.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : rest.slice(q + 1));
  const at = beforeQuery.lastIndexOf('@');
  const auth = parseUserInfo(at === -1 ? undefined : beforeQuery.slice(0, at), fail);
  const location = at === -1 ? beforeQuery : beforeQuery.slice(at + 1);
  const slash = location.indexOf('/');
  const hostList = slash === -1 ? location : location.slice(0, slash);
  const path = slash === -1 ? '' : location.slice(slash + 1);
  const defaultPort = scheme === 'redis-sentinel' ? 26379 : 6379;
  const nodes = hostList.split(',').map((h) => parseHost(h, defaultPort, fail));

  const allowed = scheme === 'redis-sentinel' ? ['db'] : [];
  for (const name of query.keys()) {
    if (!allowed.includes(name)) fail(`unknown query parameter "${name}"`);
  }
  const hosts = nodes.map(formatNode).join(',');

  if (scheme === 'redis' || scheme === 'rediss') {
    const node = nodes[0];
    if (node === undefined || nodes.length > 1) {
      return fail(
        `${scheme}:// takes one host; use redis-sentinel:// or redis-cluster:// for several`,
      );
    }
    const options: RedisOptions = { host: node.host, port: node.port, ...auth };
    if (path !== '') options.db = parseDb(path, fail);
    if (scheme === 'rediss') {
      options.tls = isIP(node.host) === 0 ? { servername: node.host } : {};
    }
    return { mode: 'standalone', options, address: hosts };
  }
  if (scheme === 'redis-sentinel') {
    if (path === '' || path.includes('/')) {
      return fail(
        'name the master after the hosts, e.g. redis-sentinel://h1:26379,h2:26379/mymaster',
      );
    }
    const name = safeDecode(path, 'master name', fail);
    const options: RedisOptions = { sentinels: nodes, name, ...auth };
    const db = query.get('db');
    if (db !== null) options.db = parseDb(db, fail);
    return { mode: 'sentinel', options, address: `master "${name}" via sentinels ${hosts}` };
  }
  if (path !== '') fail('redis-cluster:// takes no database: Redis Cluster only has database 0');
  return { mode: 'cluster', nodes, options: { redisOptions: { ...auth } }, address: hosts };
}

function parseUserInfo(
  userinfo: string | undefined,
  fail: (problem: string) => never,
): { username?: string; password?: string } {
  if (userinfo === undefined || userinfo === '') return {};
  const colon = userinfo.indexOf(':');
  if (colon === -1) return { password: safeDecode(userinfo, 'password', fail) };
  const username = safeDecode(userinfo.slice(0, colon), 'user name', fail);
  const password = safeDecode(userinfo.slice(colon + 1), 'password', fail);
  return {
    ...(username === '' ? {} : { username }),
    ...(password === '' ? {} : { password }),
  };
}

function safeDecode(text: string, what: string, fail: (problem: string) => never): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail(`the ${what} has malformed percent-encoding`);
  }
}

function parseHost(text: string, defaultPort: number, fail: (p: string) => never): RedisNode {
  if (text === '') return fail('a host is missing');
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    host = close === -1 ? '' : text.slice(1, close);
    const after = close === -1 ? '' : text.slice(close + 1);
    if (isIP(host) !== 6 || (after !== '' && !after.startsWith(':'))) {
      return fail(`"${text}" is not a bracketed IPv6 address like [::1]:6379`);
    }
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = text.lastIndexOf(':');
    host = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
    if (host.includes(':')) return fail(`IPv6 hosts need brackets, e.g. [${host}]:6379`);
    if (isIP(host) === 0 && !hostname.test(host)) {
      return fail(`"${host}" is not a valid host name or IP address`);
    }
  }
  if (portText === undefined) return { host, port: defaultPort };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535))
    return fail(`port "${portText}" is not a number from 1 to 65535`);
  return { host, port };
}

function parseDb(text: string, fail: (p: string) => never): number {
  const db = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (Number.isNaN(db)) return fail(`database "${text}" is not a non-negative integer`);
  return db;
}

function formatNode(node: RedisNode): string {
  return isIP(node.host) === 6 ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`;
}
