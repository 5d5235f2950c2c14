/**
 * `causeway dev`: start the local multi-zone mesh (see `dev-mesh.ts`), print what runs
 * where and how to try it, and stop everything on Ctrl-C (SIGINT) or SIGTERM, leaving no
 * process or port behind.
 */
import type { Command } from 'commander';
import { processSignals } from '../../../core/src/lifecycle.ts';
import type { CliContext } from '../context.ts';
import { DevMesh } from './dev-mesh.ts';

export function addDevCommand(program: Command, ctx: CliContext): void {
  program
    .command('dev')
    .description(
      'run a whole multi-zone mesh locally: global, zones east and west, a gateway each, and a sample app',
    )
    .action(async () => {
      const print = (line: string): void => void ctx.stdout.write(`${line}\n`);
      const mesh = new DevMesh({ say: (line) => print(`starting ${line}`) });
      let stopRequested!: (why: string) => void;
      const stop = new Promise<string>((resolve) => (stopRequested = resolve));
      const uninstall = (ctx.installSignals ?? processSignals)(['SIGINT', 'SIGTERM'], (signal) =>
        stopRequested(`received ${signal}`),
      );
      try {
        const started = mesh.start();
        const first = await Promise.race([
          started.then(() => 'started' as const),
          stop.then(() => 'stop' as const),
          mesh.failure.then((err) => {
            throw err;
          }),
        ]);
        if (first === 'started') {
          const p = mesh.ports;
          print('');
          print('causeway dev: a two-zone mesh is running');
          print(
            `  global     http://127.0.0.1:${p.globalHttp}/api/zones   (zone sync on ${p.globalSync})`,
          );
          for (const zone of ['east', 'west'] as const) {
            const z = p.zones[zone];
            print(
              `  zone ${zone.padEnd(5)} http://127.0.0.1:${z.http}   gateway public ${z.gatewayPublic}, local ${z.gatewayLocal}`,
            );
          }
          print(`  web (east) http://127.0.0.1:${p.apps.web}   calls api through its sidecar`);
          print(
            `  api        east :${p.apps.apiEast}, west :${p.apps.apiWest}, each behind a sidecar`,
          );
          print(`  logs       ${mesh.dir}`);
          print('');
          print(
            `try: curl http://127.0.0.1:${p.apps.web}/?via=west   # web (east) → api in west, through both gateways`,
          );
          print(
            `try: curl http://127.0.0.1:${p.apps.web}/            # web → the nearest api (east)`,
          );
          print('Ctrl-C stops everything.');
          const why = await Promise.race([stop, mesh.failure.then((err) => Promise.reject(err))]);
          print(`stopping (${why})`);
        }
      } finally {
        uninstall();
        await mesh.stop();
        print('stopped');
      }
    });
}
