-- A random token per sender invocation, so two senders that start in the same millisecond can never
-- mistake each other's lease for their own (the lease's expiry alone was the token before).
ALTER TABLE notifications ADD COLUMN lease_token TEXT;
