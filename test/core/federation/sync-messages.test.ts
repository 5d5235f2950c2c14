import { expect } from 'chai';
import {
  MAX_RESOURCE_BYTES,
  decodeGlobalFrame,
  decodeZoneFrame,
  globalResourceValidators,
  zoneResourceValidators,
} from '../../../core/index.ts';
import { refusal } from '../../helpers/refusal.ts';

const delta = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'delta',
    resourceType: 'instance',
    nonce: 'n',
    revision: 'r.2',
    baseRevision: 'r.1',
    full: false,
    upserts: [],
    removes: [],
    ...over,
  });

describe('zone sync messages', () => {
  it('decodes a hello with resume revisions of global types only, ignoring types it does not know', () => {
    const hello = decodeZoneFrame(
      JSON.stringify({
        type: 'hello',
        protocol: 1,
        zone: 'east',
        version: '0.1.0',
        // A newer zone may resume types this global does not know; a zone type is not one
        // a zone receives either.
        resume: { kv: 'a.1', instance: 'a', 'from-the-future': 'b.2' },
        accepts: ['kv', 'remote-service', 'from-the-future'],
      }),
    );
    expect(hello).to.deep.include({
      type: 'hello',
      zone: 'east',
      resume: { kv: 'a.1' },
      accepts: ['kv', 'remote-service'],
    });
    expect(
      refusal(() =>
        decodeZoneFrame(
          JSON.stringify({
            type: 'hello',
            protocol: 1,
            zone: 'east',
            version: '1',
            resume: { kv: 7 },
          }),
        ),
      ).field,
    ).to.equal('resume.kv');
    expect(
      refusal(() =>
        decodeZoneFrame(
          JSON.stringify({ type: 'hello', protocol: 1, zone: 'east', version: '1', accepts: 'kv' }),
        ),
      ).field,
    ).to.equal('accepts');
    expect(
      refusal(() =>
        decodeZoneFrame(JSON.stringify({ type: 'hello', protocol: 2, zone: 'e', version: '1' })),
      ).message,
    ).to.match(/unsupported sync protocol 2/);
  });

  it('accepts deltas only of the types the sender may send', () => {
    expect(decodeZoneFrame(delta()).type).to.equal('delta');
    expect(refusal(() => decodeGlobalFrame(delta())).field).to.equal('resourceType');
    expect(
      refusal(() => decodeZoneFrame(delta({ resourceType: 'remote-service' }))).field,
    ).to.equal('resourceType');
  });

  it('names the offending resource and field', () => {
    const big = { blob: 'x'.repeat(MAX_RESOURCE_BYTES) };
    const err = refusal(() =>
      decodeZoneFrame(delta({ upserts: [{ name: 'default/api/a', version: 'v', body: big }] })),
    );
    expect(err.message).to.match(/instance default\/api\/a is \d+ bytes, over the \d+-byte limit/);
    expect(err.field).to.equal('upserts[0].body');
    expect(
      refusal(() => decodeZoneFrame(delta({ upserts: [{ name: '../x', version: 'v', body: {} }] })))
        .field,
    ).to.equal('upserts[0].name');
    expect(
      refusal(() =>
        decodeZoneFrame(
          delta({ upserts: [{ name: 'a/b', version: 'v', body: {} }], removes: ['a/b'] }),
        ),
      ).message,
    ).to.match(/both upserted and removed/);
    expect(refusal(() => decodeZoneFrame('{')).message).to.match(/not JSON/);
    expect(refusal(() => decodeZoneFrame('{"type":"bogus"}')).field).to.equal('type');
  });

  it('validators refuse bodies whose name does not match, with the field', () => {
    const instance = {
      service: 'api',
      namespace: 'default',
      instanceId: 'n/a',
      node: 'n',
      address: '1.2.3.4',
      port: 1,
      protocol: 'http',
      health: 'passing',
      tags: [],
      meta: {},
    };
    zoneResourceValidators.instance('default/api/n/a', instance);
    expect(
      refusal(() => zoneResourceValidators.instance('default/web/n/a', instance)).field,
    ).to.equal('name');
    expect(
      refusal(() =>
        zoneResourceValidators.instance('default/api/n/a', { ...instance, health: 'ok' }),
      ).field,
    ).to.equal('health');
    expect(
      refusal(() =>
        zoneResourceValidators.export('default/api', {
          service: 'api',
          namespace: 'default',
          consumers: ['*', 'west'],
        }),
      ).field,
    ).to.equal('consumers');
    expect(
      refusal(() =>
        globalResourceValidators['remote-service']('east/default/api', {
          zone: 'east',
          service: 'api',
          namespace: 'default',
          protocol: 'tcp',
          healthy: 3,
          total: 2,
        }),
      ).field,
    ).to.equal('healthy');
  });
});
