/**
 * Where a zone's CA sealing key comes from: the shared rules in core's `sealer-source.ts`
 * (environment, key file, `<data-dir>/ca-encryption.key`, or a process-lifetime key for a
 * store in memory), applied to the zone's options.
 */
import { resolveSealer as resolveSealerFor } from '../../../core/index.ts';
import type { KeySealer, Logger, SealerSource } from '../../../core/index.ts';

export { SEALING_KEY_FILE } from '../../../core/index.ts';
export type { SealerSource } from '../../../core/index.ts';

export function resolveSealer(
  source: Omit<SealerSource, 'who'>,
  logger: Logger,
): Promise<KeySealer> {
  return resolveSealerFor({ ...source, who: 'a zone' }, logger);
}
