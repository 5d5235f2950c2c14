/** Zone sync: the protocol both the global control plane and the zones speak. */
export * from './sync-messages.ts';
export * from './resource-outbox.ts';
export * from './resource-inbox.ts';
export * from './validate-resources.ts';
export * from './sync-channel.ts';
export * from './kv-scopes.ts';
export * from './kv-messages.ts';
