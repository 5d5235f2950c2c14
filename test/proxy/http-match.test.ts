import { expect } from 'chai';
import { authorityOf, matchesHttp, normalizeTarget, pathOf } from '../../proxy/src/http-match.ts';

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

  describe('request target normalisation', function () {
    it('returns an already-normal target unchanged (the same string)', function () {
      const url = '/api/users?q=%2F..//x#y';
      expect(normalizeTarget('/api/users?q=%2F')).to.equal('/api/users?q=%2F');
      expect(normalizeTarget(url)).to.equal('/api/users?q=%2F..//x');
      expect(normalizeTarget('/.well-known/ready')).to.equal('/.well-known/ready');
    });

    it('turns absolute-form into origin-form and gives the authority', function () {
      expect(normalizeTarget('http://evil/admin')).to.equal('/admin');
      expect(normalizeTarget('HTTPS://evil:8443?x=1')).to.equal('/?x=1');
      expect(authorityOf('http://evil:81/admin')).to.equal('evil:81');
      expect(authorityOf('/admin')).to.equal(undefined);
      expect(normalizeTarget('*')).to.equal('*');
    });

    it('drops the fragment, resolves dot segments and merges slashes', function () {
      expect(normalizeTarget('/admin#x')).to.equal('/admin');
      expect(normalizeTarget('/api/../admin')).to.equal('/admin');
      expect(normalizeTarget('/../../admin')).to.equal('/admin');
      expect(normalizeTarget('//admin///x')).to.equal('/admin/x');
      expect(normalizeTarget('/a/./b/../c/')).to.equal('/a/c/');
      expect(normalizeTarget('/a/b/.')).to.equal('/a/b/');
      expect(normalizeTarget('/a\\..\\admin')).to.equal('/admin');
    });

    it('decodes percent-encoded unreserved characters only, before resolving dots', function () {
      expect(normalizeTarget('/%61dmin')).to.equal('/admin');
      expect(normalizeTarget('/%2e%2E/admin')).to.equal('/admin');
      expect(normalizeTarget('/a%20b%e4?x=%41')).to.equal('/a%20b%E4?x=%41');
      expect(normalizeTarget('/100%')).to.equal('/100%');
    });

    it('refuses an encoded slash or backslash, and targets in no known form', function () {
      expect(normalizeTarget('/a%2Fb')).to.equal(undefined);
      expect(normalizeTarget('/a%2fb')).to.equal(undefined);
      expect(normalizeTarget('/a%5cb')).to.equal(undefined);
      expect(normalizeTarget('admin')).to.equal(undefined);
      expect(normalizeTarget('')).to.equal(undefined);
      expect(normalizeTarget('ftp://x/admin')).to.equal(undefined);
    });
  });
});
