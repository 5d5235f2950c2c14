/** `--acl-bootstrap` / `CAUSEWAY_ACL_BOOTSTRAP`: how a zone without a bootstrap token starts. */
import { expect } from 'chai';
import { ConfigError } from '../../core/index.ts';
import { parseZoneFlags } from '../../zone-control/src/flags.ts';
import { resolveZoneOptions } from '../../zone-control/index.ts';

describe('ACL bootstrap options', function () {
  it('generates a management token at first start unless told otherwise', function () {
    expect(resolveZoneOptions({ name: 'east' }).aclBootstrap).to.equal('generate');
  });

  it('takes the mode from --acl-bootstrap, over CAUSEWAY_ACL_BOOTSTRAP', function () {
    const env = { CAUSEWAY_ACL_BOOTSTRAP: 'generate' };
    expect(parseZoneFlags(['--acl-bootstrap', 'api'], env).aclBootstrap).to.equal('api');
    expect(parseZoneFlags([], { CAUSEWAY_ACL_BOOTSTRAP: 'api' }).aclBootstrap).to.equal('api');
  });

  it('refuses an unknown mode, naming where it came from', function () {
    expect(() => parseZoneFlags([], { CAUSEWAY_ACL_BOOTSTRAP: 'later' }))
      .to.throw(ConfigError)
      .with.property('field', 'CAUSEWAY_ACL_BOOTSTRAP');
    expect(() => resolveZoneOptions({ name: 'east', aclBootstrap: 'later' as 'api' })).to.throw(
      'aclBootstrap must be "generate" or "api"; got "later"',
    );
  });
});
