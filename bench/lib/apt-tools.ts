/**
 * Make sure the external programs a benchmark compares against (haproxy, wrk, ...) are
 * installed, with Debian's `apt-get install -y` when they are missing. The package index
 * is refreshed (`apt-get update`) only when a first install fails, since a fresh index
 * costs tens of seconds and is usually not needed.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export interface Tool {
  /** The command to look for on PATH. */
  command: string;
  /** The Debian package that provides it. */
  aptPackage: string;
  /** Arguments that make it print its version and exit 0 (or at least run). */
  versionArgs: string[];
}

/** The first line the tool prints for `versionArgs`, or undefined when it does not run. */
export function toolVersion(tool: Tool): string | undefined {
  const run = spawnSync(tool.command, tool.versionArgs, { encoding: 'utf8' });
  if (run.error) return undefined;
  const text = `${run.stdout}\n${run.stderr}`.trim();
  return text.split('\n').find((l) => l.trim() !== '') ?? tool.command;
}

function haveApt(): boolean {
  return !spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error;
}

function aptInstall(packages: string[]): void {
  execFileSync('apt-get', ['install', '-y', '-qq', ...packages], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/**
 * Install the tools that are missing and return each tool's version line.
 * @throws Error with the command to run by hand when apt is unavailable or not allowed.
 */
export function ensureTools(tools: Tool[], log: (line: string) => void): Map<string, string> {
  const missing = tools.filter((t) => toolVersion(t) === undefined);
  if (missing.length > 0) {
    const packages = missing.map((t) => t.aptPackage);
    const howTo = `apt-get install -y ${packages.join(' ')}`;
    if (!haveApt()) {
      throw new Error(
        `${missing.map((t) => t.command).join(', ')} not installed and apt-get is not ` +
          `available here: install ${packages.join(', ')} with your package manager and retry`,
      );
    }
    if (process.getuid?.() !== 0) {
      throw new Error(
        `${missing.map((t) => t.command).join(', ')} not installed: run \`${howTo}\` as root and retry`,
      );
    }
    log(`installing ${packages.join(' ')} with apt-get`);
    try {
      aptInstall(packages);
    } catch {
      log('apt-get install failed; refreshing the package index and trying again');
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      aptInstall(packages);
    }
  }
  const versions = new Map<string, string>();
  for (const tool of tools) {
    const version = toolVersion(tool);
    if (version === undefined) {
      throw new Error(`${tool.command} still does not run after installing ${tool.aptPackage}`);
    }
    versions.set(tool.command, version);
  }
  return versions;
}
