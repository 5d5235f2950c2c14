import { expect } from 'chai';
import {
  isHopByHop,
  requestHeaders,
  responseHeaders,
  sameName,
} from '../../../proxy/src/outbound/raw-headers.ts';
import type { RequestHeaderFacts } from '../../../proxy/src/outbound/raw-headers.ts';

describe('raw header handling', function () {
  it('compares names case-insensitively', function () {
    expect(sameName('Content-Length', 'content-length')).to.equal(true);
    expect(sameName('Content-Lengthx', 'content-length')).to.equal(false);
    expect(sameName('X-User', 'x-usen')).to.equal(false);
  });

  it('drops hop-by-hop headers and traceparent, and notes framing and the hash header', function () {
    const facts = {} as RequestHeaderFacts;
    const out = requestHeaders(
      [
        'Host',
        'a',
        'Connection',
        'close',
        'Keep-Alive',
        'timeout=5',
        'Content-Length',
        '12',
        'TraceParent',
        '00-x',
        'X-User',
        'alice',
        'TE',
        'trailers',
        'Upgrade',
        'h2c',
      ],
      'x-user',
      facts,
    );
    expect(out).to.deep.equal(['Host', 'a', 'Content-Length', '12', 'X-User', 'alice']);
    expect(facts).to.deep.equal({
      contentLength: 12,
      chunked: false,
      traceparent: '00-x',
      hashValue: 'alice',
    });
    requestHeaders(['Transfer-Encoding', 'chunked'], undefined, facts);
    expect(facts.chunked).to.equal(true);
    expect(facts.contentLength).to.equal(-1);
  });

  it('drops hop-by-hop response headers only', function () {
    expect(
      responseHeaders([
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'X-A',
        '1',
        'Transfer-Encoding',
        'chunked',
      ]),
    ).to.deep.equal(['X-A', '1', 'Transfer-Encoding', 'chunked']);
    expect(isHopByHop('proxy-connection')).to.equal(true);
    expect(isHopByHop('x-forwarded-for')).to.equal(false);
  });
});
