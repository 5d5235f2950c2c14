/** What every topic of the store contract is given: the store under test and a few shortcuts. */
import type { Entry, Store } from '../../../../core/src/store/types.ts';
import { b, okEntry } from './helpers.ts';

export interface StoreHarness {
  /** A fresh, empty store on every call (a new namespace, a new temp dir, ...). */
  open(opts?: { historyLimit?: number }): Promise<Store>;
  /** Called once after the suite; stores opened by the suite are already closed. */
  cleanup?(): Promise<void>;
}

export interface ContractContext {
  /**
   * The running test's store: a fresh one for every test. Each call goes to the store the
   * test started with, so a topic can hold on to this object for the whole suite.
   */
  readonly store: Store;
  /** Another fresh store, closed after the test like the first. */
  readonly open: (opts?: { historyLimit?: number }) => Promise<Store>;
  /** Put and return the committed entry, failing the test if the put did not commit. */
  readonly put: (key: string, value: string, s?: Store) => Promise<Entry>;
  /** The keys under `prefix`, in list order. */
  readonly keys: (prefix?: string, s?: Store) => Promise<string[]>;
}

/**
 * Registers, in the calling describe block, the hooks that open a fresh store before every
 * test, close every store the test opened after it, and clean up after the suite.
 */
export function contractContext(harness: StoreHarness): ContractContext {
  const opened: Store[] = [];
  let current: Store | undefined;

  async function open(opts?: { historyLimit?: number }): Promise<Store> {
    const s = await harness.open(opts);
    opened.push(s);
    return s;
  }

  beforeEach(async function () {
    current = await open();
  });

  afterEach(async function () {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  after(async function () {
    await harness.cleanup?.();
  });

  const store = forwardTo(() => {
    if (current === undefined) throw new Error('the contract store is used outside a test');
    return current;
  });

  return {
    store,
    open,
    async put(key, value, s = store) {
      return okEntry(await s.put(key, b(value)));
    },
    async keys(prefix = '', s = store) {
      return (await s.list(prefix)).entries.map((e) => e.key);
    },
  };
}

/** A store that passes each call, with its arguments as given, to the store `target` returns. */
function forwardTo(target: () => Store): Store {
  return {
    get kind() {
      return target().kind;
    },
    get: (...args) => target().get(...args),
    list: (...args) => target().list(...args),
    put: (...args) => target().put(...args),
    delete: (...args) => target().delete(...args),
    txn: (...args) => target().txn(...args),
    currentIndex: () => target().currentIndex(),
    watch: (...args) => target().watch(...args),
    close: () => target().close(),
  };
}
