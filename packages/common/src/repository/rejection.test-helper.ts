import { expect } from "vitest";
import { FerryError } from "../errors/ferry-error.js";

/** The FerryError `promise` rejects with; fails the test when it resolves or throws another. */
export async function rejection(promise: Promise<unknown>): Promise<FerryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FerryError);
  return err as FerryError;
}
