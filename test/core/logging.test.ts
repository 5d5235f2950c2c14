import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import {
  DEFAULT_REDACT_PATHS,
  childLogger,
  createLogger,
  parseLogLevel,
  resolveLoggerOptions,
} from '../../core/src/logging.ts';
import { ConfigError } from '../../core/src/errors.ts';

/** A destination that keeps every line written, parsed. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { lines, stream };
}

describe('logging', function () {
  it('writes JSON lines with name, ISO time and a string level', function () {
    const { lines, stream } = capture();
    const logger = createLogger({ name: 'zone-control', destination: stream });
    logger.info({ port: 8500 }, 'listening');
    expect(lines).to.have.length(1);
    const line = lines[0]!;
    expect(line).to.include({ level: 'info', name: 'zone-control', port: 8500, msg: 'listening' });
    expect(line.time).to.be.a('string');
    expect(new Date(line.time as string).toISOString()).to.equal(line.time);
    expect(line.pid).to.equal(process.pid);
  });

  it('filters by level', function () {
    const { lines, stream } = capture();
    const logger = createLogger({ level: 'warn', destination: stream });
    logger.info('hidden');
    logger.warn('shown');
    logger.error('shown too');
    expect(lines.map((l) => l.msg)).to.deep.equal(['shown', 'shown too']);
  });

  it('logs nothing at level silent', function () {
    const { lines, stream } = capture();
    createLogger({ level: 'silent', destination: stream }).fatal('nothing');
    expect(lines).to.deep.equal([]);
  });

  it('redacts tokens, passwords and authorization headers', function () {
    const { lines, stream } = capture();
    const logger = createLogger({ destination: stream, redactPaths: ['req.body.csr'] });
    logger.info(
      {
        token: 'zone-token',
        redis: { password: 'hunter2', host: 'redis' },
        req: {
          headers: { authorization: 'Bearer abc', 'x-consul-token': 'xyz', accept: '*/*' },
          body: { csr: 'PEM' },
        },
        zone: { auth: { secret: 's' } },
      },
      'request',
    );
    expect(lines[0]).to.deep.include({
      token: '[redacted]',
      redis: { password: '[redacted]', host: 'redis' },
      req: {
        headers: { authorization: '[redacted]', 'x-consul-token': '[redacted]', accept: '*/*' },
        body: { csr: '[redacted]' },
      },
      zone: { auth: { secret: '[redacted]' } },
    });
  });

  it('binds a component name on child loggers and joins nested names like kds-zone', function () {
    const { lines, stream } = capture();
    const root = createLogger({ destination: stream });
    const kds = childLogger(root, 'kds');
    const zone = childLogger(kds, 'zone');
    kds.info('from kds');
    zone.info('from zone');
    expect(lines[0]).to.include({ component: 'kds', name: 'causeway' });
    expect(lines[1]).to.include({ component: 'kds-zone', name: 'causeway' });
  });

  it('writes the component binding once, so every JSON parser sees the same value', function () {
    const raw: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        raw.push(chunk.toString('utf8'));
        callback();
      },
    });
    const root = createLogger({ destination: stream });
    childLogger(childLogger(childLogger(root, 'a'), 'b'), 'c').info('deep');
    expect(raw.join('').match(/"component"/g)).to.have.length(1);
    expect(raw.join('')).to.include('"component":"a-b-c"');
  });

  it('keeps the parent level and other bindings on nested children', function () {
    const { lines, stream } = capture();
    const root = createLogger({ destination: stream });
    const store = childLogger(root, 'store').child({ backend: 'redis' });
    store.level = 'error';
    const sub = childLogger(store, 'stream');
    sub.warn('hidden');
    sub.error('shown');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ component: 'store-stream', backend: 'redis', msg: 'shown' });
  });

  it('ignores pretty for stream destinations', function () {
    const { lines, stream } = capture();
    createLogger({ pretty: true, destination: stream }).info('json');
    expect(lines.map((l) => l.msg)).to.deep.equal(['json']);
  });

  it('falls back to JSON with one warning when pino-pretty is not installed', function () {
    let prettyInstalled = true;
    try {
      createRequire(import.meta.url).resolve('pino-pretty');
    } catch {
      prettyInstalled = false;
    }
    if (prettyInstalled) this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'causeway-log-'));
    const file = join(dir, 'out.log');
    const fd = openSync(file, 'w');
    try {
      createLogger({ pretty: true, destination: fd }).info('hello');
    } finally {
      closeSync(fd);
    }
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    rmSync(dir, { recursive: true });
    expect(lines.map((l) => [l.level, l.msg])).to.deep.equal([
      ['warn', 'pino-pretty is not installed; writing JSON log lines'],
      ['info', 'hello'],
    ]);
  });

  it('validates levels and fills in defaults', function () {
    expect(parseLogLevel(' DEBUG ')).to.equal('debug');
    expect(() => parseLogLevel('loud', '--log-level')).to.throw(
      ConfigError,
      '--log-level must be one of trace, debug, info, warn, error, fatal, silent; got "loud"',
    );
    const resolved = resolveLoggerOptions();
    expect(resolved).to.include({ level: 'info', name: 'causeway', pretty: false, destination: 1 });
    expect(resolved.redactPaths).to.deep.equal(DEFAULT_REDACT_PATHS);
    expect(() => createLogger({ level: 'verbose' })).to.throw(ConfigError);
  });
});
