/**
 * `npx causeway dev` as a user runs it: a child process that starts the whole two-zone
 * mesh, prints a `try: curl …` line that makes a cross-zone call, and on Ctrl-C (SIGINT)
 * stops everything, leaving no process and no port behind.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { eventually, withTimeout } from '../helpers/async.ts';
import { childEnv } from '../helpers/child-env.ts';

const bin = fileURLToPath(new URL('../../cli/bin/causeway.js', import.meta.url));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('causeway dev (e2e)', function () {
  this.timeout(240_000);

  it('runs a two-zone mesh, answers the printed cross-zone curl, and stops clean on Ctrl-C', async () => {
    const child = spawn(process.execPath, [bin, 'dev'], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      const url = await eventually(
        () => {
          if (child.exitCode !== null) throw new Error(`causeway dev exited early:\n${out}`);
          return /try: curl (http:\/\/127\.0\.0\.1:\d+\/\?via=west)/.exec(out)?.[1];
        },
        'the try: line',
        180_000,
        200,
      );
      const reply = (await (await fetch(url)).json()) as {
        service: string;
        zone: string;
        upstream: { status: number; answer: { service: string; zone: string; caller: string } };
      };
      expect(reply.service).to.equal('web');
      expect(reply.zone).to.equal('east');
      expect(reply.upstream.status).to.equal(200);
      expect(reply.upstream.answer.service).to.equal('api');
      expect(reply.upstream.answer.zone).to.equal('west');
      // The west api's sidecar verified web's east identity end to end.
      expect(reply.upstream.answer.caller).to.equal(
        'spiffe://causeway.mesh/zone/east/ns/default/svc/web',
      );
    } finally {
      const ports = [...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const [code] = (await withTimeout(exited, 60_000, 'causeway dev to stop')) as [number | null];
      expect(code, out).to.equal(0);
      expect(out).to.include('stopped');
      for (const port of new Set(ports)) {
        expect(await portFree(port), `port ${port} still in use`).to.equal(true);
      }
    }
  });
});
