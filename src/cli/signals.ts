// Ctrl-C / SIGTERM for long commands: the first one aborts the returned signal (the command finishes the frame
// in progress and saves), a second one exits at once (130 for SIGINT, 143 for SIGTERM).
export interface SignalStop {
  signal: AbortSignal;
  /** The signal that stopped the command, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** Removes the handlers. */
  dispose(): void;
}

export function stopOnSignals(): SignalStop {
  const ac = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
    received = sig;
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    get received() {
      return received;
    },
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
