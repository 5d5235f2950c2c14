import { expect } from 'chai';
import {
  ServiceUnavailableError,
  httpStatusOf,
  isRetryable,
  toErrorBody,
} from '../../../core/index.ts';
import { TunnelError, reasonOfStatus } from '../../../gateway/src/tunnel/tunnel-error.ts';

describe('TunnelError', function () {
  it('gives every 503 the unavailable code, retryable, answered 503', function () {
    for (const reason of [
      'no_healthy_endpoint',
      'connect_failure',
      'tunnel_failure',
      'not_ready',
    ] as const) {
      const err = new TunnelError(reason, 'nothing healthy');
      expect([err.status, err.code, httpStatusOf(err), isRetryable(err)], reason).to.deep.equal([
        503,
        'CW_ERR_UNAVAILABLE',
        503,
        true,
      ]);
    }
    expect(
      toErrorBody(new TunnelError('no_healthy_endpoint', 'default/api: no healthy endpoint')),
    ).to.deep.equal({
      error: { code: 'CW_ERR_UNAVAILABLE', message: 'default/api: no healthy endpoint' },
    });
  });

  it('keeps refusals final, with their own codes', function () {
    const cases = [
      ['not_exported', 403, 'CW_ERR_PERMISSION_DENIED'],
      ['peer_identity', 403, 'CW_ERR_PERMISSION_DENIED'],
      ['unknown_service', 404, 'CW_ERR_NOT_FOUND'],
      ['method_not_allowed', 405, 'CW_ERR_METHOD_NOT_ALLOWED'],
    ] as const;
    for (const [reason, status, code] of cases) {
      const err = new TunnelError(reason, 'no');
      expect([err.status, err.code, httpStatusOf(err), isRetryable(err)], reason).to.deep.equal([
        status,
        code,
        status,
        false,
      ]);
    }
  });

  it("takes a peer gateway's answer as given, with the code of its status", function () {
    const err = new TunnelError(reasonOfStatus(503), 'west-a answered 503', 503);
    expect([err.reason, err.code]).to.deep.equal(['no_healthy_endpoint', 'CW_ERR_UNAVAILABLE']);
    expect(reasonOfStatus(403)).to.equal('not_exported');
    expect(reasonOfStatus(502)).to.equal('tunnel_failure');
  });

  it("shares core's ServiceUnavailableError code and status", function () {
    const err = new ServiceUnavailableError('down');
    expect([err.code, err.name, httpStatusOf(err), isRetryable(err)]).to.deep.equal([
      'CW_ERR_UNAVAILABLE',
      'ServiceUnavailableError',
      503,
      true,
    ]);
  });
});
