/** Reading and writing single keys: values, key validation and flags. */
import { expect } from 'chai';
import {
  InvalidArgumentError,
  InvalidKeyError,
  ValueTooLargeError,
} from '../../../../core/src/errors.ts';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../../../core/src/store/types.ts';
import type { ContractContext } from './context.ts';
import { b, expectTyped, okEntry, view } from './helpers.ts';

export function describeKeysAndValues(ctx: ContractContext): void {
  const { store, put, keys } = ctx;

  describe('get and put', function () {
    it('starts empty at index 0', async function () {
      expect(await store.currentIndex()).to.equal(0);
      expect(await keys()).to.deep.equal([]);
    });

    it('returns null for a missing key', async function () {
      expect(await store.get('missing')).to.equal(null);
    });

    it('reads back what was put, with the entry the put returned', async function () {
      const result = await store.put('app/config', b('hello'));
      const written = okEntry(result);
      expect(view(await store.get('app/config'))).to.deep.equal(view(written));
      expect(written.key).to.equal('app/config');
      expect(written.value.toString()).to.equal('hello');
      expect(written.lockIndex).to.equal(0);
      expect(written.session).to.equal(undefined);
    });

    it('gives a new key createIndex = modifyIndex = the new store index', async function () {
      const e = await put('k', 'v');
      expect(e.createIndex).to.equal(1);
      expect(e.modifyIndex).to.equal(1);
      expect(await store.currentIndex()).to.equal(1);
    });

    it('keeps createIndex and advances modifyIndex on overwrite', async function () {
      const first = await put('k', 'one');
      await put('other', 'x');
      const second = await put('k', 'two');
      expect(second.createIndex).to.equal(first.createIndex);
      expect(second.modifyIndex).to.equal(3);
      expect((await store.get('k'))!.value.toString()).to.equal('two');
    });

    it('stores every byte value unchanged', async function () {
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      okEntry(await store.put('bin', all));
      const got = await store.get('bin');
      expect(Buffer.isBuffer(got!.value)).to.equal(true);
      expect(got!.value.equals(all)).to.equal(true);
    });

    it('returns binary values unchanged from list', async function () {
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
      okEntry(await store.put('bin/a', all));
      const [listed] = (await store.list('bin/')).entries;
      expect(listed!.value.equals(all)).to.equal(true);
    });

    it('stores an empty value', async function () {
      okEntry(await store.put('empty', Buffer.alloc(0)));
      const got = await store.get('empty');
      expect(got).to.not.equal(null);
      expect(got!.value.length).to.equal(0);
    });

    it('keeps its own copy of the value given to put', async function () {
      const value = b('abc');
      okEntry(await store.put('k', value));
      value.fill(0);
      expect((await store.get('k'))!.value.toString()).to.equal('abc');
    });

    it('accepts a value of exactly 512 KiB', async function () {
      const big = Buffer.alloc(MAX_VALUE_BYTES, 0xab);
      okEntry(await store.put('big', big));
      expect((await store.get('big'))!.value.equals(big)).to.equal(true);
    });

    it('rejects a value one byte over 512 KiB with ValueTooLargeError and writes nothing', async function () {
      const err = await expectTyped(
        store.put('big', Buffer.alloc(MAX_VALUE_BYTES + 1)),
        ValueTooLargeError,
      );
      expect(err.code).to.equal('CW_ERR_VALUE_TOO_LARGE');
      expect(await store.get('big')).to.equal(null);
      expect(await store.currentIndex()).to.equal(0);
    });

    it('rejects a value that is not a Buffer with InvalidArgumentError', async function () {
      await expectTyped(store.put('k', 'text' as unknown as Buffer), InvalidArgumentError);
      expect(await store.get('k')).to.equal(null);
    });

    it('round-trips multi-byte UTF-8 keys', async function () {
      await put('héllo/wörld/日本', 'v');
      expect((await store.get('héllo/wörld/日本'))!.key).to.equal('héllo/wörld/日本');
      expect(await keys('héllo/')).to.deep.equal(['héllo/wörld/日本']);
    });
  });

  describe('key validation', function () {
    const badKeys: [string, string][] = [
      ['an empty key', ''],
      ['a key with NUL', 'a\u0000b'],
      ['a key with a leading "/"', '/a'],
      ['a key with an empty segment "//"', 'a//b'],
      ['a key longer than 1024 bytes', 'k'.repeat(MAX_KEY_BYTES + 1)],
      ['a key of 1024 bytes written with multi-byte characters plus one', 'é'.repeat(512) + 'x'],
    ];
    for (const [what, key] of badKeys) {
      it(`rejects ${what} with InvalidKeyError and writes nothing`, async function () {
        const err = await expectTyped(store.put(key, b('v')), InvalidKeyError);
        expect(err.code).to.equal('CW_ERR_INVALID_KEY');
        expect(await store.currentIndex()).to.equal(0);
        expect(await keys()).to.deep.equal([]);
      });
    }

    it('accepts a key of exactly 1024 bytes', async function () {
      const key = 'k'.repeat(MAX_KEY_BYTES);
      await put(key, 'v');
      expect((await store.get(key))!.key).to.equal(key);
    });

    it('accepts a trailing "/" (a folder marker) as a key of its own', async function () {
      await put('config/', 'folder');
      await put('config/a', 'child');
      expect((await store.get('config/'))!.value.toString()).to.equal('folder');
      expect(await keys('config')).to.deep.equal(['config/', 'config/a']);
    });

    it('rejects an invalid key on get and delete and an invalid prefix on list', async function () {
      await expectTyped(store.get('a//b'), InvalidKeyError);
      await expectTyped(store.delete('/a'), InvalidKeyError);
      await expectTyped(store.list('/a'), InvalidKeyError);
    });
  });

  describe('flags', function () {
    it('stores 0 when a put has no flags', async function () {
      expect((await put('k', 'v')).flags).to.equal(0);
      expect((await store.get('k'))!.flags).to.equal(0);
    });

    it('persists the flags given', async function () {
      const max = Number.MAX_SAFE_INTEGER;
      okEntry(await store.put('k', b('v'), { flags: 42 }));
      okEntry(await store.put('max', b('v'), { flags: max }));
      expect((await store.get('k'))!.flags).to.equal(42);
      expect((await store.get('max'))!.flags).to.equal(max);
    });

    it('resets flags to 0 when a later put has none', async function () {
      okEntry(await store.put('k', b('v'), { flags: 7 }));
      await put('k', 'v2');
      expect((await store.get('k'))!.flags).to.equal(0);
    });

    it('rejects negative or fractional flags with InvalidArgumentError', async function () {
      await expectTyped(store.put('k', b('v'), { flags: -1 }), InvalidArgumentError);
      await expectTyped(store.put('k', b('v'), { flags: 1.5 }), InvalidArgumentError);
      expect(await store.get('k')).to.equal(null);
      expect(await store.currentIndex()).to.equal(0);
    });
  });
}
