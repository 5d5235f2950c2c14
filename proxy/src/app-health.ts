/**
 * The local app's health, checked by the proxy beside it and reported to the zone (the
 * instance's health check in the catalog): an HTTP GET (2xx passing, 429 warning as in
 * Consul, anything else critical), a TCP connect, or none (always passing). Reports go
 * out only when the status or output changes, so a steady app costs no stream traffic.
 */
import net from 'node:net';
import { sleep } from '../../core/index.ts';
import type { Component, Logger } from '../../core/index.ts';
import type { LocalApp } from './inbound/local-app.ts';
import type { HealthCheckSpec } from './options.ts';

export type AppHealthStatus = 'passing' | 'warning' | 'critical';

export interface AppHealthResult {
  status: AppHealthStatus;
  output: string;
}

export interface AppHealthOptions {
  spec: HealthCheckSpec;
  app: LocalApp;
  intervalMs: number;
  /** @default min(intervalMs, 5000) */
  timeoutMs?: number;
  onChange: (result: AppHealthResult) => void;
  logger: Logger;
}

const MAX_OUTPUT = 512;

export class AppHealth implements Component {
  readonly name = 'app-health';
  #last: AppHealthResult | undefined;

  constructor(private readonly options: AppHealthOptions) {}

  /** The latest result; undefined before the first check. */
  current(): AppHealthResult | undefined {
    return this.#last;
  }

  async start(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.checkNow();
      if (this.options.spec.kind === 'none') return;
      await sleep(this.options.intervalMs, signal);
    }
  }

  /** Run one check and report it if it changed. */
  async checkNow(): Promise<AppHealthResult> {
    const result = await this.#check();
    const last = this.#last;
    this.#last = result;
    if (last?.status !== result.status || last.output !== result.output) {
      if (last?.status !== result.status) {
        this.options.logger.info(
          { status: result.status, output: result.output },
          'app health changed',
        );
      }
      this.options.onChange(result);
    }
    return result;
  }

  #check(): Promise<AppHealthResult> {
    const { spec } = this.options;
    const timeoutMs = this.options.timeoutMs ?? Math.min(this.options.intervalMs, 5000);
    switch (spec.kind) {
      case 'none':
        return Promise.resolve({ status: 'passing', output: 'no health check configured' });
      case 'tcp':
        return tcpCheck(this.options.app, timeoutMs);
      case 'http':
        return httpCheck(spec.url, timeoutMs);
    }
  }
}

async function httpCheck(url: string, timeoutMs: number): Promise<AppHealthResult> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    const body = (await res.text()).slice(0, MAX_OUTPUT);
    const status: AppHealthStatus =
      res.status >= 200 && res.status < 300
        ? 'passing'
        : res.status === 429
          ? 'warning'
          : 'critical';
    return {
      status,
      output: `HTTP GET ${url}: ${res.status} ${res.statusText} Output: ${body}`.trim(),
    };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why =
      e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (e.cause?.code ?? e.message);
    return { status: 'critical', output: `HTTP GET ${url}: ${why}` };
  }
}

function tcpCheck(app: LocalApp, timeoutMs: number): Promise<AppHealthResult> {
  const target = `${app.address}:${app.port}`;
  return new Promise((resolve) => {
    const socket = net.connect({ host: app.address, port: app.port });
    const done = (result: AppHealthResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        done({
          status: 'critical',
          output: `TCP connect ${target}: timed out after ${timeoutMs} ms`,
        }),
      timeoutMs,
    );
    socket.once('connect', () =>
      done({ status: 'passing', output: `TCP connect ${target}: Success` }),
    );
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({ status: 'critical', output: `TCP connect ${target}: ${err.code ?? err.message}` }),
    );
  });
}
