/**
 * The IPC messages between the primary's `WorkerPool` and each worker's agent.
 * IPC serialises as JSON, so binary values travel as base64.
 */
import type { ProxyConfig } from '../../../core/index.ts';
import type { IdentityMaterial } from '../identity/tls-identity.ts';
import type { PlaneSpec } from '../proxy.ts';

export type ToWorker =
  | { type: 'cw:init'; spec: PlaneSpec }
  | { type: 'cw:identity'; material: IdentityMaterial; ticketKeys: string }
  | { type: 'cw:config'; id: number; config: ProxyConfig; version: number }
  | { type: 'cw:metrics'; id: number }
  | { type: 'cw:clusters'; id: number }
  | { type: 'cw:stop' };

export type FromWorker =
  | { type: 'cw:hello' }
  | { type: 'cw:listening'; port: number }
  | { type: 'cw:reply'; id: number; ok: true; value: unknown }
  | { type: 'cw:reply'; id: number; ok: false; error: string };

export type IdentityMessage = Extract<ToWorker, { type: 'cw:identity' }>;
