/** Asserting that configuration is refused, and with which error. */
import { expect } from 'chai';
import { ConfigError } from '../../core/index.ts';

/**
 * The `ConfigError` that `fn` throws, for the caller to check its message; fails the test
 * if `fn` returns or throws anything else, or (with `field`) names another field.
 */
export function configError(fn: () => unknown, field?: string): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    if (field !== undefined) expect((err as ConfigError).field).to.equal(field);
    return err as ConfigError;
  }
  expect.fail('expected a ConfigError');
}
