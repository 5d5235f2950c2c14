/** Asserting that input is refused, and with which error. */
import { expect } from 'chai';
import { CausewayError } from '../../core/index.ts';

/**
 * The `CausewayError` that `fn` throws, for the caller to check its message and field;
 * fails the test if `fn` returns or throws anything else.
 */
export function refusal(fn: () => unknown): CausewayError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(CausewayError);
    return err as CausewayError;
  }
  expect.fail('expected a refusal');
}
