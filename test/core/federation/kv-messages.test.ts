import { expect } from 'chai';
import {
  MAX_VALUE_BYTES,
  decodeGlobalFrame,
  decodeZoneFrame,
  globalResourceValidators,
  kvResourceName,
} from '../../../core/index.ts';
import { refusal } from '../../helpers/refusal.ts';

const write = (op: Record<string, unknown>, id: unknown = 'w1') =>
  JSON.stringify({ type: 'kv-write', id, op });

describe('global KV write messages', () => {
  it('decodes each verb with its fields and Go-style defaults', () => {
    const value = Buffer.from('v').toString('base64');
    expect(decodeZoneFrame(write({ verb: 'set', key: 'global/a', value }))).to.deep.equal({
      type: 'kv-write',
      id: 'w1',
      op: { verb: 'set', key: 'global/a', value, flags: 0 },
    });
    expect(
      decodeZoneFrame(write({ verb: 'cas', key: 'global/a', value, flags: 7, index: 0 })),
    ).to.deep.include({ op: { verb: 'cas', key: 'global/a', value, flags: 7, index: 0 } });
    expect(
      decodeZoneFrame(write({ verb: 'delete-cas', key: 'global/a', index: 3 })),
    ).to.deep.include({ op: { verb: 'delete-cas', key: 'global/a', index: 3 } });
    // A tree delete takes a prefix, which may even be empty (global checks its scope).
    expect(decodeZoneFrame(write({ verb: 'delete-tree', key: '' }))).to.deep.include({
      op: { verb: 'delete-tree', key: '' },
    });
  });

  const bad: [string, string, RegExp, string][] = [
    ['an unknown verb', write({ verb: 'lock', key: 'k' }), /op.verb must be one of/, 'op.verb'],
    ['an empty key', write({ verb: 'delete', key: '' }), /must not be empty/, 'op.key'],
    [
      'a key with an empty segment',
      write({ verb: 'delete', key: 'a//b' }),
      /empty segment/,
      'op.key',
    ],
    [
      'a value that is not base64',
      write({ verb: 'set', key: 'k', value: '%%' }),
      /base64/,
      'op.value',
    ],
    [
      'a value on a delete',
      write({ verb: 'delete', key: 'k', value: '' }),
      /for set and cas/,
      'op.value',
    ],
    [
      'a cas without an index',
      write({ verb: 'cas', key: 'k', value: '' }),
      /op.index must be/,
      'op.index',
    ],
    [
      'an index on a set',
      write({ verb: 'set', key: 'k', value: '', index: 1 }),
      /for cas and delete-cas/,
      'op.index',
    ],
    [
      'negative flags',
      write({ verb: 'set', key: 'k', value: '', flags: -1 }),
      /op.flags/,
      'op.flags',
    ],
    ['a missing op', JSON.stringify({ type: 'kv-write', id: 'x' }), /op must be an object/, 'op'],
    ['an over-long id', write({ verb: 'delete', key: 'k' }, 'x'.repeat(65)), /id must be/, 'id'],
  ];
  for (const [what, frame, message, field] of bad) {
    it(`refuses ${what}, naming the field`, () => {
      const err = refusal(() => decodeZoneFrame(frame));
      expect(err.message).to.match(message);
      expect(err.field).to.equal(field);
    });
  }

  it('refuses a value over the KV limit', () => {
    const value = Buffer.alloc(MAX_VALUE_BYTES + 1).toString('base64');
    expect(
      refusal(() => decodeZoneFrame(write({ verb: 'set', key: 'k', value }))).message,
    ).to.match(/at most 524288/);
  });

  it('global frames carry kv-written answers; zones cannot send them', () => {
    const answer = {
      type: 'kv-written',
      id: 'w1',
      ok: false,
      index: 0,
      error: { code: 'CW_ERR_INVALID_ARGUMENT', message: 'no', field: 'op.key' },
    };
    expect(decodeGlobalFrame(JSON.stringify(answer))).to.deep.equal(answer);
    expect(refusal(() => decodeZoneFrame(JSON.stringify(answer))).message).to.match(
      /unknown frame type/,
    );
    expect(refusal(() => decodeGlobalFrame(write({ verb: 'delete', key: 'k' }))).message).to.match(
      /unknown frame type/,
    );
    expect(
      refusal(() => decodeGlobalFrame(JSON.stringify({ ...answer, index: -1 }))).field,
    ).to.equal('index');
  });

  it('the welcome carries validated global prefixes', () => {
    const welcome = {
      type: 'welcome',
      protocol: 1,
      zone: 'east',
      trustDomain: 'causeway.mesh',
      roots: ['pem'],
      heartbeatMs: 5000,
      resume: {},
    };
    expect(decodeGlobalFrame(JSON.stringify(welcome))).to.deep.include({
      kvGlobalPrefixes: [],
      // A global from before `accepts` takes the zone types it had then, no newer one.
      accepts: ['instance', 'gateway', 'export'],
    });
    expect(
      decodeGlobalFrame(JSON.stringify({ ...welcome, kvGlobalPrefixes: ['global/'] })),
    ).to.deep.include({ kvGlobalPrefixes: ['global/'] });
    expect(
      refusal(() => decodeGlobalFrame(JSON.stringify({ ...welcome, kvGlobalPrefixes: ['global'] })))
        .field,
    ).to.equal('kvGlobalPrefixes[0]');
  });

  it('checks a kv resource: key, name, value and counts', () => {
    const body = { key: 'global/a', value: 'dg==', flags: 0, modifyIndex: 4 };
    globalResourceValidators.kv(kvResourceName('global/a'), body);
    expect(refusal(() => globalResourceValidators.kv('global/a', body)).message).to.match(
      /SHA-256/,
    );
    expect(
      refusal(() => globalResourceValidators.kv(kvResourceName('a//b'), { ...body, key: 'a//b' }))
        .field,
    ).to.equal('key');
    expect(
      refusal(() =>
        globalResourceValidators.kv(kvResourceName('global/a'), { ...body, value: '*' }),
      ).field,
    ).to.equal('value');
  });

  it('lets a kv delta carry a 512 KiB value, which is over the limit for other types', () => {
    const value = Buffer.alloc(MAX_VALUE_BYTES).toString('base64');
    const delta = (resourceType: string, body: unknown) =>
      JSON.stringify({
        type: 'delta',
        resourceType,
        nonce: 'n',
        revision: 'r.1',
        baseRevision: '',
        full: true,
        upserts: [{ name: kvResourceName('global/big'), version: 'v', body }],
        removes: [],
      });
    const body = { key: 'global/big', value, flags: 0, modifyIndex: 1 };
    expect(decodeGlobalFrame(delta('kv', body))).to.have.property('resourceType', 'kv');
    expect(refusal(() => decodeGlobalFrame(delta('policy', body))).message).to.match(
      /over the 262144-byte limit/,
    );
  });
});
