import { expect } from 'chai';
import type { KvWriteMessage } from '../../../core/index.ts';
import { KvForwardError } from '../../../zone-control/src/kv/global-kv.ts';
import { KvWriteForwarder } from '../../../zone-control/src/sync/kv-write-forwarder.ts';

const op = { verb: 'set' as const, key: 'global/x', value: 'dg==', flags: 0 };

async function failure(promise: Promise<unknown>): Promise<KvForwardError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(KvForwardError);
    return err as KvForwardError;
  }
  throw new Error('expected the write to fail');
}

describe('KvWriteForwarder', () => {
  it('fails at once as unreachable, sending nothing, while no connection is attached', async () => {
    const forwarder = new KvWriteForwarder();
    const err = await failure(forwarder.forward(op));
    expect(err.reason).to.equal('unreachable');
    expect(err.code).to.equal('CW_ERR_UNAVAILABLE');
  });

  it('matches answers to writes by id, in any order', async () => {
    const sent: KvWriteMessage[] = [];
    const forwarder = new KvWriteForwarder();
    forwarder.attach((frame) => sent.push(frame));
    const first = forwarder.forward(op);
    const second = forwarder.forward({ verb: 'delete', key: 'global/y' });
    expect(sent.map((f) => f.op.key)).to.deep.equal(['global/x', 'global/y']);
    expect(sent[0]?.id).to.not.equal(sent[1]?.id);
    expect(forwarder.answer({ type: 'kv-written', id: sent[1]?.id ?? '', ok: true, index: 9 })).to
      .be.true;
    expect(forwarder.answer({ type: 'kv-written', id: sent[0]?.id ?? '', ok: false, index: 0 })).to
      .be.true;
    expect(await second).to.include({ ok: true, index: 9 });
    expect(await first).to.include({ ok: false, index: 0 });
    // An id nobody waits for (answered already, or unknown) is dropped.
    expect(forwarder.answer({ type: 'kv-written', id: sent[0]?.id ?? '', ok: true, index: 1 })).to
      .be.false;
  });

  it('times out a write global does not answer, and drops the late answer', async () => {
    const sent: KvWriteMessage[] = [];
    const forwarder = new KvWriteForwarder(50);
    forwarder.attach((frame) => sent.push(frame));
    const err = await failure(forwarder.forward(op));
    expect(err.reason).to.equal('timeout');
    expect(forwarder.answer({ type: 'kv-written', id: sent[0]?.id ?? '', ok: true, index: 3 })).to
      .be.false;
  });

  it('fails writes in flight as lost when the connection goes, and new ones as unreachable', async () => {
    const forwarder = new KvWriteForwarder();
    forwarder.attach(() => undefined);
    const pending = forwarder.forward(op);
    forwarder.detach();
    expect((await failure(pending)).reason).to.equal('lost');
    expect(forwarder.attached).to.equal(false);
    expect((await failure(forwarder.forward(op))).reason).to.equal('unreachable');
  });
});
