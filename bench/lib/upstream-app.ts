/**
 * The upstream app of the proxy benchmark, run as its own process:
 * `node --import tsx bench/lib/upstream-app.ts <port> [processes]`. Answers every request
 * with the same ~100-byte body over keep-alive connections, and does nothing else, so
 * that the proxies in front of it are what the benchmark measures. With `processes` > 1 it
 * forks that many servers sharing the listening socket (Node's `cluster`).
 */
import cluster from 'node:cluster';
import http from 'node:http';

const port = Number(process.argv[2]);
const processes = Number(process.argv[3] ?? 1);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: upstream-app.ts <port> [processes]');
  process.exit(2);
}

/** 100 bytes, as JSON, sent as one buffer. */
const BODY = Buffer.from(
  JSON.stringify({ service: 'bench-server', ok: true, pad: 'x'.repeat(59) }),
);

if (processes > 1 && cluster.isPrimary) {
  for (let i = 0; i < processes; i++) cluster.fork();
  cluster.on('exit', (_w, code) => {
    console.error(`upstream worker exited with ${code}`);
    process.exit(1);
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  const server = http.createServer((req, res) => {
    // Drain any request body, then answer; no allocation per request beyond Node's own.
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
  });
  // Longer than the proxies' idle pools and wrk's pauses, so no side closes a pooled
  // connection mid-run.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
  process.on('SIGTERM', () => process.exit(0));
}
