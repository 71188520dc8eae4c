import { z } from "zod";
import { CHANNELS } from "../channels";

const sendJobSchema = z.object({ event_id: z.string(), channel: z.enum(CHANNELS) });

/** A send job: the queue message body of `patient-notifications`, naming one outbox row. */
export type SendJob = z.infer<typeof sendJobSchema>;

/** A queue message body as a send job (extra fields dropped), or null when it is not one. */
export function readSendJob(body: unknown): SendJob | null {
  const parsed = sendJobSchema.safeParse(body);
  return parsed.success ? parsed.data : null;
}
