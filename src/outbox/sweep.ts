/**
 * The sweep of an outbox: takes rows whose job was lost (`take`, e.g. an outbox's `takeStale`) and
 * enqueues their jobs again, `chunk` rows at a time, at most `maxChunks` takes per run; stops at the
 * first short take. The claim's lease makes a second job for a row harmless. Answers how many it enqueued.
 */
export async function sweepOutbox<Job>(
  take: (limit: number) => Promise<Job[]>,
  enqueue: (jobs: Job[]) => Promise<number>,
  limits: { chunk: number; maxChunks: number },
): Promise<number> {
  let enqueued = 0;
  for (let chunk = 0; chunk < limits.maxChunks; chunk += 1) {
    const jobs = await take(limits.chunk);
    enqueued += await enqueue(jobs);
    if (jobs.length < limits.chunk) break;
  }
  return enqueued;
}
