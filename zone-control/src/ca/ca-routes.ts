/**
 * The CA over HTTP.
 *
 * Consul-compatible: `GET /v1/connect/ca/roots` (no ACL, blocking, `?pem`) and
 * `GET /v1/agent/connect/ca/leaf/<service>` (`service:write`, blocking).
 *
 * Native (`/api/ca`, JSON errors):
 * - `GET /api/ca` — roots, intermediates, rotation phase with progress, revocations,
 *   issue counts (`operator:read`);
 * - `GET /api/ca/bundle` — trust bundle and revoked serials (no ACL, blocking);
 * - `POST /api/ca/leaf` `{csr, spiffeId}` — sign a CSR the caller is entitled to;
 * - `PUT /api/ca/ack` `{participant, bundleVersion, instance?}` — a participant (one
 *   instance of it) trusts a bundle;
 * - `POST /api/ca/rotation` `{keyType?} | {certificatePem, privateKeyPem}` — start a root
 *   rotation (`operator:write`); `POST /api/ca/rotation/advance` `{phase}` — end the
 *   current phase without waiting for its condition;
 * - `GET|POST /api/ca/revocations` — list (no ACL) / revoke `{serial, reason?}`
 *   (`operator:write`).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { X509Certificate } from 'node:crypto';
import {
  CA_REVOKED_PREFIX,
  CA_STATE_KEY,
  InvalidArgumentError,
  PHASE_NAMES,
  trustBundlePems,
} from '../../../core/index.ts';
import type { CaState, RotationPhase } from '../../../core/index.ts';
import { requireAccess } from '../acl/authorizer.ts';
import { stateOf } from '../http/api-context.ts';
import type { ApiDeps } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import { parseBlockingQuery, setConsulHeaders, waitForChange } from '../http/blocking.ts';
import type { BlockingQuery } from '../http/blocking.ts';
import { readJsonBody } from '../http/body.ts';
import { queryFlag } from '../catalog/consul-json.ts';
import { AgentLeafCache } from './agent-leaf.ts';
import { consulRoots, consulTime, serialColonHex } from './consul-ca.ts';
import { requireEntitlement } from './entitlement.ts';
import type { IssuedLeaf, ZoneCa } from './zone-ca.ts';

export function caRoutes(ca: ZoneCa): RouteModule {
  return (router: Router, deps: ApiDeps) => {
    const agentLeaves = new AgentLeafCache(ca);
    const scope = () => ({ trustDomain: ca.state.trustDomain, zone: ca.state.zone });

    /**
     * Hold a blocking read until the CA state (or the revocations) change, then catch the
     * in-memory state up with the store, so the answer reflects what woke it.
     */
    const blockOn = async (ctx: Context, query: BlockingQuery, revocations: boolean) => {
      const { signal } = stateOf(ctx);
      const both = new AbortController();
      const stop = () => both.abort();
      signal.addEventListener('abort', stop, { once: true });
      try {
        await Promise.race([
          waitForChange(deps.store, { prefix: CA_STATE_KEY, exact: true }, query, both.signal),
          ...(revocations
            ? [waitForChange(deps.store, { prefix: CA_REVOKED_PREFIX }, query, both.signal)]
            : []),
        ]);
      } finally {
        both.abort();
        signal.removeEventListener('abort', stop);
      }
      if (query.index !== 0) await ca.refresh();
    };

    router.get('/v1/connect/ca/roots', async (ctx) => {
      const query = parseBlockingQuery(ctx);
      const pem = queryFlag(ctx.query.pem, 'pem');
      await blockOn(ctx, query, false);
      const index = await deps.store.currentIndex();
      setConsulHeaders(ctx, index);
      if (pem) {
        ctx.type = 'application/pem-certificate-chain';
        ctx.body = trustBundlePems(ca.state).join('');
        return;
      }
      ctx.body = consulRoots(ca.state, ca.stateIndex);
    });

    router.get('/v1/agent/connect/ca/leaf/:service', async (ctx) => {
      const service = ctx.params.service ?? '';
      const { authz } = stateOf(ctx);
      requireAccess(authz, 'service', service, 'write');
      const query = parseBlockingQuery(ctx);
      let entry = await agentLeaves.get(service);
      if (query.index !== 0 && query.index === entry.leaf.index) {
        // The leaf is current for everything up to now: wait for a later CA change or
        // revocation (not from the client's index, which may predate the store's history),
        // or for its renewal time, whichever is first; then look again.
        const waitMs = Math.min(query.waitMs, Math.max(0, entry.renewAt - Date.now()));
        const from = await deps.store.currentIndex();
        await blockOn(ctx, { ...query, index: from, waitMs }, true);
        entry = await agentLeaves.get(service);
      }
      setConsulHeaders(ctx, entry.leaf.index);
      ctx.body = {
        SerialNumber: serialColonHex(entry.leaf.serial),
        CertPEM: entry.leaf.chainPem,
        PrivateKeyPEM: entry.privateKeyPem,
        Service: service,
        ServiceURI: entry.leaf.spiffeId,
        ValidAfter: consulTime(entry.leaf.notBefore),
        ValidBefore: consulTime(entry.leaf.notAfter),
        CreateIndex: entry.leaf.index,
        ModifyIndex: entry.leaf.index,
      };
    });

    router.get('/api/ca', async (ctx) => {
      requireAccess(stateOf(ctx).authz, 'operator', '', 'read');
      ctx.body = await caOverview(ca);
    });

    router.get('/api/ca/bundle', async (ctx) => {
      const query = parseBlockingQuery(ctx);
      await blockOn(ctx, query, true);
      const revocations = await ca.revocations();
      setConsulHeaders(ctx, await deps.store.currentIndex());
      const state = ca.state;
      ctx.body = {
        trustDomain: state.trustDomain,
        bundleVersion: state.bundleVersion,
        activeRootId: state.activeRootId,
        roots: trustBundlePems(state),
        revokedSerials: revocations.records.map((r) => r.serial).sort(),
      };
    });

    router.post('/api/ca/leaf', async (ctx) => {
      const body = await readObject(ctx, deps);
      const spiffeId = requiredString(body, 'spiffeId');
      const csr = requiredString(body, 'csr');
      requireEntitlement(stateOf(ctx).authz, spiffeId, scope());
      ctx.body = leafBody(await ca.sign(csr, spiffeId));
    });

    router.put('/api/ca/ack', async (ctx) => {
      const body = await readObject(ctx, deps);
      const participant = requiredString(body, 'participant');
      const bundleVersion = body.bundleVersion;
      if (!Number.isSafeInteger(bundleVersion) || (bundleVersion as number) < 1) {
        throw new InvalidArgumentError('bundleVersion must be a positive integer', 'bundleVersion');
      }
      const instance = body.instance ?? '';
      if (typeof instance !== 'string' || !/^[A-Za-z0-9._:-]{0,128}$/.test(instance)) {
        throw new InvalidArgumentError(
          'instance must be at most 128 letters, digits and . _ : -',
          'instance',
        );
      }
      requireEntitlement(stateOf(ctx).authz, participant, scope(), 'participant');
      ctx.body = await ca.acknowledge(participant, bundleVersion as number, instance);
    });

    router.post('/api/ca/rotation', async (ctx) => {
      requireAccess(stateOf(ctx).authz, 'operator', '', 'write');
      const body = (await readObject(ctx, deps, true)) ?? {};
      const keyType = body.keyType;
      if (keyType !== undefined && keyType !== 'ec' && keyType !== 'rsa') {
        throw new InvalidArgumentError('keyType must be "ec" or "rsa"', 'keyType');
      }
      const hasCert = body.certificatePem !== undefined;
      const hasKey = body.privateKeyPem !== undefined;
      if (hasCert !== hasKey) {
        throw new InvalidArgumentError(
          'a provided root needs both certificatePem and privateKeyPem',
          hasCert ? 'privateKeyPem' : 'certificatePem',
        );
      }
      await ca.rotate({
        keyType,
        provided: hasCert
          ? {
              certificatePem: requiredString(body, 'certificatePem'),
              privateKeyPem: requiredString(body, 'privateKeyPem'),
            }
          : undefined,
      });
      ctx.status = 201;
      ctx.body = await caOverview(ca);
    });

    router.post('/api/ca/rotation/advance', async (ctx) => {
      requireAccess(stateOf(ctx).authz, 'operator', '', 'write');
      const body = await readObject(ctx, deps);
      const phase = body.phase;
      if (phase !== 2 && phase !== 4) {
        throw new InvalidArgumentError(
          'phase must be 2 (stop waiting for acknowledgements) or 4 (retire the old root now)',
          'phase',
        );
      }
      await ca.advance(phase);
      ctx.body = await caOverview(ca);
    });

    router.get('/api/ca/revocations', async (ctx) => {
      const { records, index } = await ca.revocations();
      setConsulHeaders(ctx, index);
      ctx.body = { revocations: records };
    });

    router.post('/api/ca/revocations', async (ctx) => {
      requireAccess(stateOf(ctx).authz, 'operator', '', 'write');
      const body = await readObject(ctx, deps);
      const serial = requiredString(body, 'serial');
      const reason = body.reason ?? 'unspecified';
      if (typeof reason !== 'string' || reason.length > 256) {
        throw new InvalidArgumentError(
          'reason must be a string of at most 256 characters',
          'reason',
        );
      }
      ctx.status = 201;
      ctx.body = await ca.revoke(serial, reason);
    });
  };
}

function leafBody(leaf: IssuedLeaf): Record<string, unknown> {
  return {
    serial: leaf.serial,
    spiffeId: leaf.spiffeId,
    certificatePem: leaf.certificatePem,
    chainPem: leaf.chainPem,
    trustBundle: leaf.trustBundle,
    bundleVersion: leaf.bundleVersion,
    rootId: leaf.rootId,
    notBefore: leaf.notBefore.toISOString(),
    notAfter: leaf.notAfter.toISOString(),
    issuedAt: leaf.issuedAt.toISOString(),
  };
}

/** The native CA overview (`GET /api/ca`). */
export async function caOverview(ca: ZoneCa): Promise<Record<string, unknown>> {
  const state: CaState = ca.state;
  const [revocations, leaves, progress] = await Promise.all([
    ca.revocations(),
    ca.leaves(),
    ca.ackProgress(),
  ]);
  const now = Date.now();
  const activeLeaves = leaves.filter((l) => Date.parse(l.notAfter) > now);
  const byRoot: Record<string, number> = {};
  for (const leaf of activeLeaves) byRoot[leaf.rootId] = (byRoot[leaf.rootId] ?? 0) + 1;
  return {
    trustDomain: state.trustDomain,
    zone: state.zone,
    bundleVersion: state.bundleVersion,
    activeRootId: state.activeRootId,
    roots: state.roots.map((r) => {
      const cert = new X509Certificate(r.certificatePem);
      return {
        id: r.id,
        active: r.id === state.activeRootId,
        source: r.source,
        keyType: r.key?.type,
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
        crossSigned: r.crossSignedPem !== undefined,
        certificatePem: r.certificatePem,
      };
    }),
    intermediates: state.intermediates.map((i) => {
      const cert = new X509Certificate(i.certificatePem);
      return {
        rootId: i.rootId,
        zone: state.zone,
        serial: cert.serialNumber.toLowerCase(),
        keyType: i.key.type,
        notAfter: new Date(cert.validTo).toISOString(),
        certificatePem: i.certificatePem,
      };
    }),
    rotation: await rotationView(ca, state, progress),
    revocations: {
      count: revocations.records.length,
      serials: revocations.records.map((r) => r.serial),
    },
    issued: { active: activeLeaves.length, byRoot, sinceStart: ca.issuedSinceStart },
    participants: progress,
  };
}

async function rotationView(
  ca: ZoneCa,
  state: CaState,
  progress: Awaited<ReturnType<ZoneCa['ackProgress']>>,
): Promise<Record<string, unknown> | null> {
  const rotation = state.rotation;
  if (!rotation) return null;
  const current = rotation.phase;
  const phases = ([1, 2, 3, 4] as RotationPhase[]).map((phase) => {
    const startedAt = rotation.phaseStartedAt[phase - 1];
    const done = current === 'complete' || phase < current;
    const view: Record<string, unknown> = {
      phase,
      name: PHASE_NAMES[phase],
      state: done ? 'done' : phase === current ? 'in-progress' : 'pending',
      startedAt: startedAt ?? null,
      forced: rotation.forced.includes(phase),
    };
    if (phase === 2 && current === 2) view.progress = [progress];
    return view;
  });
  if (current === 4) {
    const remaining = await ca.oldLeavesRemaining();
    (phases[3] as Record<string, unknown>).oldLeaves = remaining;
  }
  return {
    id: rotation.id,
    fromRootId: rotation.fromRootId,
    toRootId: rotation.toRootId,
    phase: current,
    phaseName: current === 'complete' ? 'complete' : PHASE_NAMES[current],
    bundleVersion: rotation.bundleVersion,
    startedAt: rotation.startedAt,
    completedAt: rotation.completedAt ?? null,
    phases,
  };
}

async function readObject(
  ctx: Context,
  deps: ApiDeps,
  optional = false,
): Promise<Record<string, unknown>> {
  const body = await readJsonBody(ctx, deps.zone.maxBodyBytes);
  if (body === undefined && optional) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError('the body must be a JSON object', 'body');
  }
  return body as Record<string, unknown>;
}

function requiredString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') {
    throw new InvalidArgumentError(`${name} is required and must be a non-empty string`, name);
  }
  return value;
}
