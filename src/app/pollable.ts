/**
 * A stream read without a promise per item. A fan-out to a thousand subscribers spent most of
 * its time passing each item through a chain of promises per subscriber; a pollable stream
 * hands over whatever is ready in one synchronous call, and says when more may be.
 */
export interface Pollable<T> {
  /** The next step if one is ready now; undefined when there is none yet: the listener is called once there may be. */
  poll(): IteratorResult<T> | undefined;
  /**
   * Called when poll may have something new: by the live log, synchronously as it hands out
   * events (so it must not throw, and may be called again from within poll, e.g. when the
   * stream ends itself); by adapted iterators, when a step arrives. The last listener given is
   * the one called.
   */
  onReadable(listener: () => void): void;
  /** Ends the stream. A step that had already arrived may still be polled: readers stop by themselves once they have ended it. */
  return(): Promise<unknown>;
}

export const isPollable = <T>(value: object): value is Pollable<T> => typeof (value as Partial<Pollable<T>>).poll === 'function';

/**
 * Any async iterator as a pollable stream: one next() at a time, its step kept until polled.
 * For sources whose items each need I/O anyway (an execution's updates), where a promise per
 * item costs nothing that matters.
 */
export function toPollable<T>(iterator: AsyncIterator<T>): Pollable<T> {
  let listener = () => {};
  let pending = false;
  let arrived: IteratorResult<T> | undefined;
  let failure: { readonly error: unknown } | undefined;
  return {
    poll() {
      if (failure) throw failure.error;
      if (arrived) {
        const step = arrived;
        arrived = undefined;
        return step;
      }
      if (!pending) {
        pending = true;
        iterator
          .next()
          .then(
            (step) => (arrived = step),
            (error: unknown) => (failure = { error }),
          )
          .finally(() => {
            pending = false;
            listener();
          });
      }
      return undefined;
    },
    onReadable: (readable) => (listener = readable),
    return: async () => iterator.return?.(),
  };
}
