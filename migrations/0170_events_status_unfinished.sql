-- One D1 row written fewer per event processed (issue 26.2): `events_status_received` keeps no entry
-- for a `processed` event. The status update that finishes an event SETs `status`, which re-added the
-- event's entry in this index (a row written) only to file it under the status nearly every event
-- ends in; now the row leaves the index instead, which costs nothing (the update writes the row
-- alone). The claim still adds the entry, for `processing`: the stuck sweep and the payload purge find
-- events in flight through it.
--
-- Who reads it: the event lists filtered by a status other than `processed`, the stats' counts per
-- status, the overview's events needing attention, the bulk replay's selection, the stuck sweep, the
-- payload purge's stuck rows and the watch's dead and invalid events (src/db/events.ts STATUS_INDEXED).
-- SQLite uses a partial index only when the query's WHERE holds its condition as written, so each of
-- those queries adds `status <> 'processed'` to its own status term. A list filtered by `processed`
-- reads events_received (or the type's or clinic's index) in order and skips the other rows, few by
-- definition; the stats count `processed` as the total less the other statuses.
DROP INDEX events_status_received;
CREATE INDEX events_status_received ON events (status, received_at DESC, event_id DESC)
  WHERE status <> 'processed';
