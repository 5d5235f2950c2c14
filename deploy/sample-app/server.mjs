#!/usr/bin/env node
/**
 * The sample application `causeway dev` runs behind sidecars: a small HTTP service that
 * says who and where it is, and (for `web`) calls its upstreams through its sidecar's
 * outbound listeners, so a curl shows the whole path.
 *
 *   node server.mjs --name api --zone east --port 8081
 *   node server.mjs --name web --zone east --port 8080 \
 *     --upstream api=http://127.0.0.1:9001 --upstream west=http://127.0.0.1:9002
 *
 * GET /            → {service, zone, instance} and, with upstreams, the first upstream's answer
 * GET /?via=<name> → the same through the upstream called <name>
 * GET /health      → 200 "ok"
 *
 * Plain JavaScript on purpose: it stands for any app and needs nothing from Causeway.
 */
import http from 'node:http';
import { hostname } from 'node:os';

const args = process.argv.slice(2);
const flag = (name) => {
  const values = [];
  for (let i = 0; i < args.length; i++) if (args[i] === `--${name}`) values.push(args[i + 1]);
  return values;
};
const name = flag('name')[0] ?? 'app';
const zone = flag('zone')[0] ?? 'unknown';
const port = Number(flag('port')[0] ?? 8080);
const instance = `${name}-${zone}-${hostname()}-${process.pid}`;
const upstreams = new Map(
  flag('upstream').map((u) => {
    const [key, url] = u.split('=');
    return [key, url];
  }),
);

function fetchJson(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(body) });
        } catch {
          resolve({ status: res.statusCode, body });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('upstream timed out')));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  const answer = {
    service: name,
    zone,
    instance,
    caller: req.headers['x-causeway-source'] ?? null,
  };
  const via = url.searchParams.get('via') ?? [...upstreams.keys()][0];
  if (via !== undefined) {
    const target = upstreams.get(via);
    if (!target) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: `no upstream called ${via}; have ${[...upstreams.keys()].join(', ')}`,
        }) + '\n',
      );
      return;
    }
    try {
      const up = await fetchJson(target);
      answer.upstream = { via, status: up.status, answer: up.body };
    } catch (err) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...answer, error: `calling ${via}: ${err.message}` }) + '\n');
      return;
    }
  }
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify(answer, null, 2) + '\n');
});

server.listen(port, '127.0.0.1', () => {
  console.log(
    JSON.stringify({ msg: 'sample app listening', name, zone, port: server.address().port }),
  );
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
