/**
 * Other zones' revocations at a zone. Every zone's leaves chain to the same global root,
 * so a leaf revoked in zone east must be refused in west too. Global sends west each of
 * east's revocations as a `remote-revocation` resource (`sync/global/remote-revocation/
 * east/<serial>`); the inbox mirrors it, in the same transaction, to `ca/revoked/<serial>`,
 * where the zone keeps its own revocations. So the CA's revocation list, the trust
 * bundle's `revokedSerials` (`/api/ca/bundle`, the proxies' bundle frames, the gateways)
 * and the pruner treat it as any revocation, with nothing of their own to change.
 *
 * The mirror never writes a serial this zone issued a leaf under, and never overwrites or
 * deletes a record another zone holds (see below). Revoked lists compare serials alone,
 * so a compromised zone that names another zone's serial can still make third zones
 * refuse that leaf (denial of service, not impersonation); lists keyed by zone and serial
 * would close that, and are not built yet.
 */
import { CA_LEAF_PREFIX, CA_REVOKED_PREFIX, parseSpiffeId } from '../../../core/index.ts';
import type {
  Logger,
  RemoteRevocationResource,
  ResourceProjection,
  RevocationRecord,
  Store,
} from '../../../core/index.ts';

/** The zone named by a revocation record's SPIFFE ID; undefined when unreadable. */
function recordZone(value: Buffer): string | undefined {
  try {
    return parseSpiffeId((JSON.parse(value.toString()) as RevocationRecord).spiffeId).zone;
  } catch {
    return undefined;
  }
}

/**
 * The inbox projection of `remote-revocation` resources onto `ca/revoked/<serial>`. Each
 * record there belongs to the zone its SPIFFE ID names, and only that zone's resources
 * write or remove it: a serial this zone issued a leaf under, or a record another zone
 * holds, is left alone (logged), so no zone can revoke this zone's leaves here, or lift a
 * revocation another zone made, by naming its serial.
 */
export function revocationProjection(
  store: Store,
  zone: string,
  logger: Logger,
): ResourceProjection {
  return {
    async upsert(name, body) {
      // Validated: the SPIFFE ID parses and names the resource's zone.
      const revoked = body as RemoteRevocationResource;
      if (revoked.zone === zone) {
        logger.warn(
          { name },
          "global sent this zone's own revocation back as a remote one; the zone's own record stays",
        );
        return [];
      }
      const { serial, spiffeId, reason, revokedAt, notAfter } = revoked;
      const key = CA_REVOKED_PREFIX + serial;
      const [ownLeaf, current] = await Promise.all([
        store.get(CA_LEAF_PREFIX + serial),
        store.get(key),
      ]);
      const holder = current ? recordZone(current.value) : undefined;
      if (ownLeaf || (current && holder !== revoked.zone)) {
        logger.warn(
          { name, serial, holder: ownLeaf ? zone : holder },
          'a remote revocation names a serial this zone issued or another zone revoked; not applied',
        );
        return [];
      }
      const record: RevocationRecord = { serial, spiffeId, reason, revokedAt, notAfter };
      return [
        // What was read is what is replaced (a local revocation landing in between fails
        // the delta, and global's next attempt reads again).
        current
          ? { op: 'check-index', key, index: current.modifyIndex }
          : { op: 'check-not-exists', key },
        { op: 'set', key, value: Buffer.from(JSON.stringify(record)) },
      ];
    },
    async remove(name) {
      // Names are `<zone>/<serial>`: only that zone's record goes.
      const slash = name.indexOf('/');
      const from = name.slice(0, slash);
      const key = CA_REVOKED_PREFIX + name.slice(slash + 1);
      const entry = await store.get(key);
      // Gone already: the pruner drops a revocation once its leaf has expired.
      if (!entry) return [];
      if (from === zone || recordZone(entry.value) !== from) return [];
      // Only the record just read: a write in between fails the transaction (a NACK), and
      // global's next full set tries again.
      return [{ op: 'delete-cas', key, index: entry.modifyIndex }];
    },
  };
}
