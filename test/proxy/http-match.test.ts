import { expect } from 'chai';
import { matchesHttp, pathOf } from '../../proxy/src/http-match.ts';

const get = { method: 'GET', path: '/api/users', headers: { 'x-env': 'canary-1' } };

describe('HTTP request matching', function () {
  it('takes the path without its query', function () {
    expect(pathOf('/a/b?x=1')).to.equal('/a/b');
    expect(pathOf('/a')).to.equal('/a');
    expect(pathOf(undefined)).to.equal('/');
  });

  it('matches every request with an empty match', function () {
    expect(matchesHttp({}, get)).to.equal(true);
  });

  it('requires every field given to match', function () {
    expect(matchesHttp({ pathPrefix: '/api', methods: ['GET'] }, get)).to.equal(true);
    expect(matchesHttp({ pathPrefix: '/api', methods: ['POST'] }, get)).to.equal(false);
    expect(matchesHttp({ pathExact: '/api' }, get)).to.equal(false);
    expect(matchesHttp({ pathExact: '/api/users' }, get)).to.equal(true);
  });

  it('matches headers exactly, by prefix, by presence and inverted', function () {
    const h = (m: object) => matchesHttp({ headers: [{ name: 'x-env', ...m }] }, get);
    expect(h({ exact: 'canary-1' })).to.equal(true);
    expect(h({ exact: 'canary' })).to.equal(false);
    expect(h({ prefix: 'canary' })).to.equal(true);
    expect(h({ present: true })).to.equal(true);
    expect(h({ present: false })).to.equal(false);
    expect(h({ prefix: 'canary', invert: true })).to.equal(false);
    expect(
      matchesHttp({ headers: [{ name: 'x-missing', exact: 'a', invert: true }] }, get),
    ).to.equal(true);
    expect(matchesHttp({ headers: [{ name: 'x-missing', prefix: '' }] }, get)).to.equal(false);
  });
});
