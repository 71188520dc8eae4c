-- Issue 19.4: the exact message handed to the provider (destination and body, JSON), written with
-- `send_started_at` and cleared with it once the provider's answer is recorded. After an unknown
-- outcome the retry looks the SMS up by this text and number, and re-sends an email with exactly
-- this payload under the same Idempotency-Key, never a freshly rendered one: a clinic name, carrier
-- or phone number changed in between must not make the lookup miss or the key mismatch. It holds a
-- contact detail only while an attempt's outcome is unknown, and the retention purge clears it.
ALTER TABLE notifications ADD COLUMN send_attempt TEXT;
