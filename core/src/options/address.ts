/**
 * Listen and dial addresses in options: `"127.0.0.1:8500"`, `"[::1]:8500"`, `":8500"`.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.ts';

/** A parsed `host:port`. `host` never has IPv6 brackets. */
export interface HostPort {
  host: string;
  port: number;
}

export interface ParseAddrOptions {
  /**
   * Host used when the address omits it (`":8500"`), as Go's `net.Listen` does.
   * @default "0.0.0.0"
   */
  defaultHost?: string;
  /**
   * Whether port 0 ("any free port") is accepted. Listeners want it (tests use it); dial
   * addresses never do.
   * @default true
   */
  allowPortZero?: boolean;
}

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const hostname =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * Parse `host:port`. IPv6 hosts must be bracketed (`[::1]:8500`) so the port is never
 * ambiguous.
 *
 * @param field - the option the value came from, named in the error.
 * @throws ConfigError naming `field` when the host or port is missing or invalid.
 */
export function parseAddr(value: unknown, field: string, options: ParseAddrOptions = {}): HostPort {
  const { defaultHost = '0.0.0.0', allowPortZero = true } = options;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(`${field} must be an address like "127.0.0.1:8500"`, field);
  }
  const text = value.trim();
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') {
      throw new ConfigError(`${field}: "${value}" must look like "[::1]:8500"`, field);
    }
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) {
      throw new ConfigError(`${field}: "${host}" in brackets is not an IPv6 address`, field);
    }
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) {
      throw new ConfigError(`${field}: "${value}" has no port; write e.g. "${text}:8500"`, field);
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      throw new ConfigError(`${field}: IPv6 hosts need brackets, e.g. "[${host}]:8500"`, field);
    }
    if (host === '') host = defaultHost;
    else if (isIP(host) === 0 && !hostname.test(host)) {
      throw new ConfigError(`${field}: "${host}" is not a valid host name or IP address`, field);
    }
  }
  return { host, port: parsePort(portText, field, allowPortZero) };
}

function parsePort(text: string, field: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new ConfigError(`${field}: port "${text}" must be a number from 1 to 65535`, field);
  }
  const port = Number(text);
  if (port > 65535 || (port === 0 && !allowZero)) {
    throw new ConfigError(`${field}: port ${port} is out of range (1-65535)`, field);
  }
  return port;
}

/** Format a {@link HostPort} back to `host:port`, bracketing IPv6 hosts. */
export function formatAddr({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
