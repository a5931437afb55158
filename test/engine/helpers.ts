/** Shared pieces of the engine tests: a record builder, a collecting consumer and a pump wait. */
import type { ConsumerSink, DeliveryImpl } from '../../src/engine/group.js';
import type { RecordInput } from '../../src/engine/record.js';
import type { FileStorage } from '../../src/engine/storage/file/index.js';
import type { PartitionOptions, PartitionStore, StorageEngine } from '../../src/engine/storage/types.js';

export function rec(body: string, extra: Partial<RecordInput> = {}): RecordInput {
  return { body: Buffer.from(body), timestamp: 1, priority: 0, ...extra };
}

/** A consumer that keeps every delivery it is pushed. */
export class Sink implements ConsumerSink {
  got: DeliveryImpl[] = [];
  constructor(readonly prefetch = 100) {}
  push(d: DeliveryImpl): void {
    this.got.push(d);
  }
  bodies(): string[] {
    return this.got.map((d) => d.body.toString());
  }
}

/** Lets queued microtasks and immediates run (the pump is asynchronous). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/**
 * A real FileStorage seen through a subclass hook: tests override open() to gate or wrap the
 * stores the engine gets; everything else goes to the real storage.
 */
export class FileStorageWrapper implements StorageEngine {
  readonly kind = 'file' as const;
  readonly persistent = true;
  readonly copiesPayloads = true;
  constructor(readonly inner: FileStorage) {}
  open(name: string, opts: PartitionOptions): Promise<PartitionStore> {
    return this.inner.open(name, opts);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  remove(name: string): Promise<void> {
    return this.inner.remove(name);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
