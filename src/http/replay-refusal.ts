import { type ReplayRefusal, refusalText } from "../replay/replay";
import { ApiError } from "./errors";

/** A replay's refusal as the admin API answers it: 404, 409 (`payload_purged`, `not_replayable`) or 503. */
export function replayRefusalError(refusal: ReplayRefusal): ApiError {
  const message = refusalText(refusal);
  switch (refusal.refused) {
    case "not_found":
      return new ApiError(404, "not_found", message);
    case "payload_purged":
    case "not_replayable":
      return new ApiError(409, refusal.refused, message);
    case "enqueue_failed":
      return new ApiError(503, "enqueue_failed", message, { headers: { "Retry-After": "30" } });
  }
}
