import { DEFAULT_CLINIC_ID, DEFAULT_TARGET, MAX_COUNT, SEEDED_START_TIME } from "./args.ts";

/** `npm run simulate -- --help`. */
export const HELP = `Send realistic NovaMed webhook traffic to a receiver, the way NovaMed's sandbox would.

Usage: NOVAMED_WEBHOOK_SECRET=<key> npm run simulate -- --target <url> [flags]

  --target <url>            the receiver's webhook URL (default ${DEFAULT_TARGET});
                            https://, or http:// to localhost, 127.0.0.1 or ::1 only
  --api-key <key>           the x-api-key to send; warns, since the process list shows it (default:
                            first key of NOVAMED_WEBHOOK_SECRET, else, against localhost, the one
                            npm run dev wrote into .dev.vars)
  --count <n>               deliveries to make, re-sends included (default 50, at most ${MAX_COUNT})
  --duplicate-rate <r>      fraction of deliveries that re-send an already-sent event, same
                            event_id and body (0 to below 1; default 0)
  --out-of-order-rate <r>   fraction of lifecycles (one order, request or refill) whose events are
                            sent shuffled (0 to 1; default 0)
  --concurrency <n>         requests in flight at once (default 4)
  --clinic-id <uuid>        clinic_id of every event (default NOVAMED_CLINIC_ID, else
                            ${DEFAULT_CLINIC_ID})
  --seed <s>                same seed and start time, same events byte for byte (default: random,
                            printed in the summary)
  --start-time <iso>        timestamp of the first event (default ${SEEDED_START_TIME} with --seed,
                            else now)
  --retry-scale <f>         multiplies NovaMed's retry delays (default 1; 0.01 makes 1 h into 36 s)
  --timeout <seconds>       per attempt; NovaMed expects an answer within 5 s (default 5)
  --dry-run                 print the bodies that would be sent, one JSON line each, in send order
  --json                    print the summary as JSON
  -h, --help                show this help

Retries follow NovaMed's policy: any answer but 200, a network error or a timeout is retried after
1 min, 5 min, 15 min and 1 h (times --retry-scale); after 5 failed attempts the event is given up.
Progress goes to stderr about once a second; the summary goes to stdout.

Exit codes:
  0  every delivery eventually got a 200 (or --dry-run)
  1  at least one delivery was given up after 5 attempts, or the run failed
  2  usage error

Example (against \`npm run dev\`, whose key the simulator reads from .dev.vars):
  npm run simulate -- --count 200 --duplicate-rate 0.1 \\
    --out-of-order-rate 0.2 --retry-scale 0.01 --seed demo
`;
