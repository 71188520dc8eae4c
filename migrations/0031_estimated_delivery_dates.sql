-- An order's estimated_delivery is a date (YYYY-MM-DD): the lifecycle watch compares it with a time,
-- and free text compared as text alerted at once (03/10/2026) or never (March 10, 2026; TBD). New
-- events are normalised by the consumer (normaliseCalendarDate in src/events/timestamp.ts); this
-- does the same to the rows stored before: an ISO date-time keeps its date as written, a US
-- MM/DD/YYYY becomes YYYY-MM-DD, and anything else becomes NULL, so the no-estimate rule applies.
UPDATE orders SET estimated_delivery = trim(estimated_delivery)
WHERE estimated_delivery <> trim(estimated_delivery);

UPDATE orders SET estimated_delivery = substr(estimated_delivery, 1, 10)
WHERE length(estimated_delivery) > 10
  AND substr(estimated_delivery, 1, 10) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
  AND substr(estimated_delivery, 11, 1) IN ('T', 't', ' ')
  AND substr(estimated_delivery, 12) GLOB '[0-2][0-9]:[0-5][0-9]*'
  AND date(substr(estimated_delivery, 1, 10)) = substr(estimated_delivery, 1, 10);

UPDATE orders SET estimated_delivery = us.iso
FROM (
  SELECT order_id, printf('%04d-%02d-%02d', CAST(y AS INTEGER), CAST(m AS INTEGER), CAST(d AS INTEGER)) AS iso
  FROM (
    SELECT order_id, m, substr(rest, 1, instr(rest, '/') - 1) AS d, substr(rest, instr(rest, '/') + 1) AS y
    FROM (
      SELECT order_id,
        substr(estimated_delivery, 1, instr(estimated_delivery, '/') - 1) AS m,
        substr(estimated_delivery, instr(estimated_delivery, '/') + 1) AS rest
      FROM orders WHERE estimated_delivery GLOB '*/*/*'
    )
  )
  WHERE (m GLOB '[0-9]' OR m GLOB '[0-9][0-9]')
    AND (d GLOB '[0-9]' OR d GLOB '[0-9][0-9]')
    AND y GLOB '[0-9][0-9][0-9][0-9]'
) AS us
WHERE orders.order_id = us.order_id AND date(us.iso) = us.iso;

UPDATE orders SET estimated_delivery = NULL
WHERE estimated_delivery IS NOT NULL
  AND NOT (estimated_delivery GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
           AND date(estimated_delivery) = estimated_delivery);
