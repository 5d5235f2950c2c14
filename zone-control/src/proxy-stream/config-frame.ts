/**
 * A `config` frame around a snapshot that is already JSON. Every proxy of a shape gets
 * the same snapshot text (`snapshot-cache.ts`); only the version and nonce are its own,
 * so the frame is spliced rather than serialized again, a few kilobytes per proxy per
 * change that `JSON.stringify` would otherwise walk and copy.
 */
import type { ConfigPush } from '../../../core/src/proxy-stream/messages.ts';

/**
 * The text `JSON.stringify({type: 'config', version, nonce, snapshot})` gives, for a
 * snapshot whose JSON is `snapshotJson`.
 */
export function configFrame(
  version: ConfigPush['version'],
  nonce: ConfigPush['nonce'],
  snapshotJson: string,
): string {
  return `{"type":"config","version":${JSON.stringify(version)},"nonce":${JSON.stringify(nonce)},"snapshot":${snapshotJson}}`;
}
