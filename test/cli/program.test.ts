import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  EXIT_FAILURE,
  EXIT_USAGE,
  buildProgram,
  packageVersion,
  reportError,
} from '../../cli/index.ts';
import { ConfigError, NotFoundError, StoreUnavailableError } from '../../core/src/errors.ts';
import { openStore } from '../../core/src/store/open-store.ts';
import type { Store } from '../../core/src/store/types.ts';
import { Captured, Harness } from './harness.ts';

describe('cli/program', function () {
  let store: Store;
  before(async function () {
    store = await openStore('memory', {});
  });
  after(async function () {
    await store.close();
  });

  it('is named causeway and has run and store commands', function () {
    const program = buildProgram(new Harness(store).ctx);
    expect(program.name()).to.equal('causeway');
    expect(program.commands.map((c) => c.name())).to.deep.equal([
      'run',
      'store',
      'token',
      'zone',
      'dev',
    ]);
    const store_ = program.commands.find((c) => c.name() === 'store')!;
    expect(store_.commands.map((c) => c.name())).to.deep.equal([
      'get',
      'put',
      'list',
      'delete',
      'watch',
      'info',
    ]);
  });

  it('prints the package.json version', async function () {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(packageVersion()).to.equal(pkg.version);
    const h = new Harness(store);
    expect(await h.run('--version')).to.equal(0);
    expect(h.stdout.text).to.equal(`${pkg.version}\n`);
  });

  it('prints help with exit 0', async function () {
    const h = new Harness(store);
    expect(await h.run('--help')).to.equal(0);
    expect(h.stdout.text).to.include('Usage: causeway');
    expect(h.stdout.text).to.include('--log-level <level>');
  });

  it('answers an unknown command or option with exit 2 and a hint', async function () {
    const h = new Harness(store);
    expect(await h.run('bogus')).to.equal(2);
    expect(h.stderr.text).to.equal("error: unknown command 'bogus'\n(add --help for usage)\n");
    const o = new Harness(store);
    expect(await o.run('store', 'get', 'k', '--nope')).to.equal(2);
    expect(o.stderr.text).to.include("error: unknown option '--nope'");
  });

  it('refuses a bad --log-level or CAUSEWAY_LOG_LEVEL with exit 2', async function () {
    const flag = new Harness(store);
    expect(await flag.run('--log-level', 'loud', 'store', 'info')).to.equal(2);
    expect(flag.stderr.text).to.match(/^error: --log-level must be one of trace, debug/);
    const env = new Harness(store, { env: { CAUSEWAY_LOG_LEVEL: 'loud' } });
    expect(await env.run('store', 'info')).to.equal(2);
    expect(env.stderr.text).to.match(/^error: CAUSEWAY_LOG_LEVEL must be one of/);
    const both = new Harness(store, { env: { CAUSEWAY_LOG_LEVEL: 'error' } });
    expect(await both.run('store', '--log-level', 'debug', 'info')).to.equal(0);
  });

  describe('reportError', function () {
    it('prints a Causeway error as message and code, never a stack', function () {
      const err = new Captured();
      expect(reportError(new NotFoundError('key "k" not found'), err)).to.equal(EXIT_FAILURE);
      expect(reportError(new StoreUnavailableError('redis is down'), err)).to.equal(EXIT_FAILURE);
      expect(reportError(new ConfigError('bad', 'x'), err)).to.equal(EXIT_USAGE);
      expect(err.lines).to.deep.equal([
        'error: key "k" not found (CW_ERR_NOT_FOUND)',
        'error: redis is down (CW_ERR_STORE_UNAVAILABLE)',
        'error: bad (CW_ERR_CONFIG)',
      ]);
    });

    it('prints a system error with its errno code', function () {
      const err = new Captured();
      const eacces = Object.assign(new Error("EACCES: permission denied, open '/data/log'"), {
        code: 'EACCES',
      });
      expect(reportError(eacces, err)).to.equal(EXIT_FAILURE);
      expect(err.text).to.equal("error: EACCES: permission denied, open '/data/log' (EACCES)\n");
    });

    it('prints the stack of an unexpected error, for the bug report', function () {
      const err = new Captured();
      expect(reportError(new TypeError('x is undefined'), err)).to.equal(EXIT_FAILURE);
      expect(err.text).to.match(
        /^error: unexpected failure, please report it with this output:\nTypeError: x is undefined\n {4}at /,
      );
      const plain = new Captured();
      reportError('a string', plain);
      expect(plain.text).to.include('a string');
    });
  });
});
