import { expect } from 'chai';
import { globalResourceValidators, policyResourceName } from '../../../core/index.ts';
import { refusal } from '../../helpers/refusal.ts';

const defaults = {
  kind: 'service-defaults',
  namespace: 'default',
  name: 'api',
  entry: { Kind: 'service-defaults', Name: 'api', Protocol: 'http' },
};

describe('policy resources', () => {
  it('accepts a config entry named by kind, namespace and name', () => {
    globalResourceValidators.policy(
      policyResourceName('service-defaults', 'default', 'api'),
      defaults,
    );
  });

  it('checks the entry as the zone’s /v1/config would, naming the field', () => {
    const err = refusal(() =>
      globalResourceValidators.policy('service-defaults/default/api', {
        ...defaults,
        entry: { ...defaults.entry, Protocol: 'smtp' },
      }),
    );
    expect(err.message).to.match(/Protocol/);
  });

  it('refuses exported-services: each zone decides what it exports', () => {
    const err = refusal(() =>
      globalResourceValidators.policy('exported-services/default/default', {
        kind: 'exported-services',
        namespace: 'default',
        name: 'default',
        entry: { Kind: 'exported-services', Name: 'default', Services: [] },
      }),
    );
    expect(err.field).to.equal('kind');
  });

  it('refuses an entry that is not the one the resource names', () => {
    const err = refusal(() =>
      globalResourceValidators.policy('service-defaults/default/api', {
        ...defaults,
        entry: { ...defaults.entry, Name: 'web' },
      }),
    );
    expect(err.field).to.equal('entry');
    expect(
      refusal(() => globalResourceValidators.policy('service-defaults/default/web', defaults))
        .message,
    ).to.match(/name/);
  });

  it('keeps the Meta key zones add free: refuses it, and a 64th Meta key', () => {
    const withMeta = (Meta: Record<string, string>) => ({
      ...defaults,
      entry: { ...defaults.entry, Meta },
    });
    expect(
      refusal(() =>
        globalResourceValidators.policy(
          'service-defaults/default/api',
          withMeta({ 'causeway-origin': 'x' }),
        ),
      ).message,
    ).to.match(/reserved/);
    const many = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v']));
    const err = refusal(() =>
      globalResourceValidators.policy('service-defaults/default/api', withMeta(many)),
    );
    expect(err.field).to.equal('Meta');
    expect(err.message).to.match(/at most 63/);
  });
});
