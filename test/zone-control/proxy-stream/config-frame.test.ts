/**
 * The spliced `config` frame is the frame `JSON.stringify` would give, and the proxy's
 * decoder reads it back with the snapshot intact.
 */
import { expect } from 'chai';
import { decodeZoneMessage } from '../../../core/src/proxy-stream/messages.ts';
import { configFrame } from '../../../zone-control/src/proxy-stream/config-frame.ts';

describe('config frame', function () {
  it('is the text JSON.stringify gives for the whole push', function () {
    const snapshot = {
      service: 'web',
      quote: 'a "quoted" \\ value \u2028 ünïcode',
      list: [1, { nested: null }],
    };
    const frame = configFrame(7, '0123456789abcdef', JSON.stringify(snapshot));
    expect(frame).to.equal(
      JSON.stringify({ type: 'config', version: 7, nonce: '0123456789abcdef', snapshot }),
    );
    expect(decodeZoneMessage(frame)).to.deep.equal({
      type: 'config',
      version: 7,
      nonce: '0123456789abcdef',
      snapshot,
    });
  });
});
