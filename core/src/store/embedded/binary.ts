/**
 * Minimal big-endian writer and reader for the store's on-disk records. A hand-rolled binary
 * layout instead of JSON keeps values as raw bytes (no base64 growth on 512 KiB values) and
 * makes every length explicit, so the reader can refuse anything that does not add up.
 */
import { CorruptDataError } from '../../errors.ts';

const TWO_32 = 2 ** 32;

export class BinaryWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  u8(n: number): this {
    this.reserve(1);
    this.buf[this.pos++] = n;
    return this;
  }

  u16(n: number): this {
    this.reserve(2);
    this.pos = this.buf.writeUInt16BE(n, this.pos);
    return this;
  }

  u32(n: number): this {
    this.reserve(4);
    this.pos = this.buf.writeUInt32BE(n, this.pos);
    return this;
  }

  /** A safe integer (≤ 2^53 − 1) as 8 bytes: high and low 32-bit halves. */
  u64(n: number): this {
    this.u32(Math.floor(n / TWO_32));
    return this.u32(n >>> 0);
  }

  /** Bytes preceded by their u32 length. */
  bytes(b: Buffer): this {
    this.u32(b.length);
    this.reserve(b.length);
    this.pos += b.copy(this.buf, this.pos);
    return this;
  }

  /** A UTF-8 string preceded by its u32 byte length. */
  string(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }

  /** The bytes written so far (a view; the writer must not be used afterwards). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** Reads what {@link BinaryWriter} wrote; any overrun or impossible value is corruption. */
export class BinaryReader {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.pos === this.buf.length;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const n = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return n;
  }

  u32(): number {
    this.need(4);
    const n = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return n;
  }

  u64(): number {
    const n = this.u32() * TWO_32 + this.u32();
    if (!Number.isSafeInteger(n)) this.fail(`integer ${n} is out of range`);
    return n;
  }

  /** Length-prefixed bytes, copied so the result does not pin the whole file buffer. */
  bytes(): Buffer {
    const len = this.u32();
    this.need(len);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return out;
  }

  string(): string {
    const len = this.u32();
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** Fail unless every byte was consumed: trailing bytes mean a different layout. */
  end(): void {
    if (!this.done) this.fail(`${this.buf.length - this.pos} unexpected trailing bytes`);
  }

  fail(problem: string): never {
    throw new CorruptDataError(`${this.what}: ${problem}`);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      this.fail(`needs ${n} bytes at offset ${this.pos} but has ${this.buf.length - this.pos}`);
    }
  }
}
