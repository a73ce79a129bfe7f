import { FerryError, type Logger } from "@ferry/common";

/** Options of {@link watchOverlay}. */
export interface OverlayWatchOptions {
  /** Bytes the overlays occupy now. */
  measure: () => Promise<number>;
  limitBytes: number;
  /** How often to measure, milliseconds. */
  intervalMs: number;
  /** Called once when the limit is crossed, with an OVERLAY_LIMIT error. */
  onLimit: (err: FerryError) => void;
  logger: Logger;
}

/**
 * Watches the fleecing overlays: every guest write during the backup copies
 * old data into them, so a long backup of a busy VM could fill the datastore.
 * Returns a disposable that stops watching.
 */
export function watchOverlay(options: OverlayWatchOptions): Disposable & { peakBytes(): number } {
  let peak = 0;
  let fired = false;
  const check = () =>
    options.measure().then(
      (bytes) => {
        peak = Math.max(peak, bytes);
        if (!fired && bytes > options.limitBytes) {
          fired = true;
          options.onLimit(
            new FerryError(
              "OVERLAY_LIMIT",
              `the fleecing overlay reached ${bytes} bytes, over its ${options.limitBytes}-byte limit; the backup stopped to protect the datastore`,
              { details: { bytes, limitBytes: options.limitBytes } },
            ),
          );
        }
      },
      (err: unknown) => options.logger.warn("cannot measure the fleecing overlay", { err }),
    );
  void check();
  const timer = setInterval(check, options.intervalMs);
  timer.unref();
  return { peakBytes: () => peak, [Symbol.dispose]: () => clearInterval(timer) };
}
