/**
 * `openssl speed` as a reference for signing benchmarks: the raw sign and verify rate of
 * the OpenSSL on this machine (the library Node's crypto links), one process, one core.
 */
import { execFileSync } from 'node:child_process';

export interface SpeedResult {
  signPerSec: number;
  verifyPerSec: number;
}

export interface OpensslSpeed {
  /** The exact command line that ran. */
  command: string;
  version: string;
  rsa2048: SpeedResult;
  ecdsaP256: SpeedResult;
}

function opensslVersion(): string {
  try {
    return execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'the openssl command is not installed; it is needed for the reference figures ' +
        '(Debian/Ubuntu: `apt-get install -y openssl`)',
    );
  }
}

/**
 * Run `openssl speed -mr -seconds <s> rsa2048 ecdsap256` and parse its machine-readable
 * lines. Rates are per second of the process's user CPU time (openssl's default, rather
 * than `-elapsed`), so compare them with the per-CPU-second rates of `timed.ts`.
 */
export function opensslSpeed(seconds = 2): OpensslSpeed {
  const version = opensslVersion();
  const args = ['speed', '-mr', '-seconds', String(seconds), 'rsa2048', 'ecdsap256'];
  const out = execFileSync('openssl', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // -mr prints `+F2:<i>:<bits>:<sign/s>:<verify/s>` for RSA and `+F4:…` for ECDSA.
  const pick = (tag: string, bits: number): SpeedResult => {
    const re = new RegExp(`^\\+${tag}:\\d+:${bits}:([\\d.]+):([\\d.]+)$`, 'm');
    const m = re.exec(out);
    if (!m) throw new Error(`cannot find +${tag} (${bits} bits) in openssl speed output:\n${out}`);
    return { signPerSec: Number(m[1]), verifyPerSec: Number(m[2]) };
  };
  return {
    command: `openssl ${args.join(' ')}`,
    version,
    rsa2048: pick('F2', 2048),
    ecdsaP256: pick('F4', 256),
  };
}
