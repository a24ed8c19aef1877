// A bounded async channel: a producer pushes, one consumer iterates. push() waits while `capacity` items are
// queued, so a slow consumer (the overlay encoder) holds the producer back instead of memory growing; once the
// consumer has stopped (finished or failed), pushes are dropped and the consumer's own error is what surfaces.
export interface Channel<T> extends AsyncIterable<T> {
  push(value: T): Promise<void>;
  /** No more values: the consumer's loop ends after the queued ones. */
  end(): void;
  /** The consumer's loop throws `error` (after nothing more is delivered). */
  fail(error: unknown): void;
}

export function channel<T>(capacity = 4): Channel<T> {
  const queue: T[] = [];
  let ended = false;
  let failed: { error: unknown } | undefined;
  let gone = false;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const poke = (w: (() => void) | undefined) => w?.();
  return {
    async push(value) {
      while (queue.length >= capacity && !gone) await new Promise<void>((r) => (wakeProducer = r));
      if (gone) return;
      queue.push(value);
      poke(wakeConsumer);
    },
    end() {
      ended = true;
      poke(wakeConsumer);
    },
    fail(error) {
      failed = { error };
      poke(wakeConsumer);
    },
    [Symbol.asyncIterator]() {
      return {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            if (failed) throw failed.error;
            if (queue.length) {
              const value = queue.shift()!;
              poke(wakeProducer);
              return { value, done: false };
            }
            if (ended) return { value: undefined, done: true };
            await new Promise<void>((r) => (wakeConsumer = r));
          }
        },
        async return(): Promise<IteratorResult<T>> {
          gone = true;
          queue.length = 0;
          poke(wakeProducer);
          return { value: undefined, done: true };
        },
      };
    },
  };
}
