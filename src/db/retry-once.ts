import { errorKind, log } from "../log";

/**
 * Runs `attempt`, and once more at once if it throws: a passing D1 error should not send a whole
 * batch into queue backoff. Only safe for attempts that may be repeated (claims and reads whose
 * repeat recognises its own first try). The second failure is thrown.
 */
export async function retryOnceInPlace<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    log.warn(`${what} failed; trying once more`, { error: errorKind(error) });
    return attempt();
  }
}
