/**
 * The NovaMed guide's "Node.js/Express Example", as a clinic would write it from the guide: JSON body
 * parser, the `x-api-key` check against NOVAMED_WEBHOOK_SECRET, `200 {received: true}` at once, then
 * asynchronous processing with the guide's in-memory idempotency map and console.log handlers.
 * Only the module syntax (ESM + types) and the port (PORT env or first argument, 127.0.0.1 only, so
 * the benchmark never listens beyond loopback) differ from the guide. It is the benchmark's
 * "what you would have written instead" baseline, kept faithful on purpose: no extra validation, no
 * queue, no database, so it is an upper bound for a naive receiver, not a safe one.
 *
 * Run: `PORT=3000 NOVAMED_WEBHOOK_SECRET=… node bench/express-reference.ts`
 */
import express from "express";

const app = express();
app.use(express.json());

// Webhook endpoint
app.post("/webhooks/novamed", async (req, res) => {
  // 1. Verify API key
  const apiKey = req.headers["x-api-key"];
  if (apiKey !== process.env.NOVAMED_WEBHOOK_SECRET) {
    return res.status(401).json({ error: "Unauthorized" });
  }
  // 2. Return 200 immediately
  res.status(200).json({ received: true });
  // 3. Process event asynchronously
  try {
    await processWebhookEvent(req.body as WebhookPayload);
  } catch (error) {
    console.error("Error processing webhook:", error);
  }
});

interface WebhookPayload {
  event_type: string;
  event_id: string;
  data: Record<string, unknown>;
}

async function processWebhookEvent(payload: WebhookPayload): Promise<void> {
  const { event_type, data, event_id } = payload;
  // Check for duplicate events
  if (await isEventProcessed(event_id)) {
    console.log("Duplicate event, skipping:", event_id);
    return;
  }
  switch (event_type) {
    case "order:shipped":
      await handleOrderShipped(data);
      break;
    case "order:delivered":
      await handleOrderDelivered(data);
      break;
    case "medication_request:approved":
      await handleMedicationApproved(data);
      break;
    case "refill:approved":
      await handleRefillApproved(data);
      break;
    default:
      console.log("Unknown event:", event_type);
  }
  // Mark event as processed
  await markEventProcessed(event_id);
}

async function handleOrderShipped(data: Record<string, unknown>): Promise<void> {
  console.log("Order shipped:", data.order_id);
  // Update your system with tracking information
  // Send notification to patient
}

async function handleOrderDelivered(data: Record<string, unknown>): Promise<void> {
  console.log("Order delivered:", data.order_id);
  // Update order status in your database
}

async function handleMedicationApproved(data: Record<string, unknown>): Promise<void> {
  console.log("Medication approved:", data.medication_request_id);
  // Trigger next steps in your workflow
}

async function handleRefillApproved(data: Record<string, unknown>): Promise<void> {
  console.log("Refill approved:", data.refill_id);
  // Process refill order
}

// The guide's "Implement Idempotency" section: an in-memory map.
const processedEvents = new Map<string, number>();

async function isEventProcessed(eventId: string): Promise<boolean> {
  return processedEvents.has(eventId);
}

async function markEventProcessed(eventId: string): Promise<void> {
  processedEvents.set(eventId, Date.now());
  // Also persist to database for reliability
}

const port = Number(process.env.PORT ?? process.argv[2] ?? 3000);
app.listen(port, "127.0.0.1", () => {
  console.log(`Webhook server listening on port ${port}`);
});
