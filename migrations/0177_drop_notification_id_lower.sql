-- One D1 row written fewer per notification (issue 26.2): the id search reads notification ids on the
-- primary key instead of `notifications_id_lower` (lower(notification_id), migration 0110), an entry
-- every notification insert wrote. The receiver makes every notification id itself, lower-case: 'ntf_'
-- and lower(hex(randomblob(12))), in both inserts of src/db/notification-outbox.ts and in every insert
-- since the table was created (migration 0003 gives no default; no migration, import or tool writes
-- one, and none changes one). The search lower-cases the prefix typed, as it did, and ranges over
-- notification_id itself (src/db/search.ts, selectIdsByPrefix): on lower-case ids the same rows in the
-- same order. The ids other tables search by (events, orders, patients, ...) come from NovaMed in any
-- case and keep their lower() indexes.
DROP INDEX notifications_id_lower;
