// The streamed result a caller iterates, whichever end produced it (a pulled item stream or a
// stream pushed over a Cinder connection).

/** A streamed result: iterate it with `for await`; breaking out closes the stream on the server. */
export interface RemoteStream<T> extends AsyncIterable<T> {
  /** Stops the stream early and tells the server. */
  close(): Promise<void>;
}
