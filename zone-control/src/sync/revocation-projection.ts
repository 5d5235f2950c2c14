/**
 * Other zones' revocations at a zone. Every zone's leaves chain to the same global root,
 * so a leaf revoked in zone east must be refused in west too. Global sends west each of
 * east's revocations as a `remote-revocation` resource (`sync/global/remote-revocation/
 * east/<serial>`); the inbox mirrors it, in the same transaction, to `ca/revoked/<serial>`,
 * where the zone keeps its own revocations. So the CA's revocation list, the trust
 * bundle's `revokedSerials` (`/api/ca/bundle`, the proxies' bundle frames, the gateways)
 * and the pruner treat it as any revocation, with nothing of their own to change.
 *
 * The mirror never overwrites or deletes a record of a leaf this zone issued: those are
 * the zone's own (its operator revoked them) and global never sends them back. A serial
 * holds 128 random bits, so a remote leaf sharing one with a local leaf is not expected;
 * were it to happen, the upsert could not tell (it cannot read the store), and the record
 * would be the remote one until that leaf expired.
 */
import { CA_REVOKED_PREFIX, parseSpiffeId } from '../../../core/index.ts';
import type {
  Logger,
  RemoteRevocationResource,
  ResourceProjection,
  RevocationRecord,
  Store,
} from '../../../core/index.ts';

/** The inbox projection of `remote-revocation` resources onto `ca/revoked/<serial>`. */
export function revocationProjection(
  store: Store,
  zone: string,
  logger: Logger,
): ResourceProjection {
  return {
    upsert(name, body) {
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
      const record: RevocationRecord = { serial, spiffeId, reason, revokedAt, notAfter };
      return [
        {
          op: 'set',
          key: CA_REVOKED_PREFIX + serial,
          value: Buffer.from(JSON.stringify(record)),
        },
      ];
    },
    async remove(name) {
      // Names are `<zone>/<serial>`.
      const key = CA_REVOKED_PREFIX + name.slice(name.indexOf('/') + 1);
      const entry = await store.get(key);
      // Gone already: the pruner drops a revocation once its leaf has expired.
      if (!entry) return [];
      let ownLeaf: boolean;
      try {
        const record = JSON.parse(entry.value.toString()) as RevocationRecord;
        ownLeaf = parseSpiffeId(record.spiffeId).zone === zone;
      } catch (err) {
        logger.error(
          { key, err: String(err) },
          'a revocation record is unreadable; it stays until its owner replaces it',
        );
        return [];
      }
      if (ownLeaf) return [];
      // Only the record just read: a write in between fails the transaction (a NACK), and
      // global's next full set tries again.
      return [{ op: 'delete-cas', key, index: entry.modifyIndex }];
    },
  };
}
