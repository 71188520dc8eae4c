-- Orders by tracking number as staff type it: any case, with or without the spaces and dashes a
-- carrier prints ("9400 1000 0000 0000 0000 00", "1Z-999-AA1-..."). 0110's index compared the stored
-- value upper-cased only, so a number NovaMed sent with spaces was never found (the search strips
-- them from what is typed). One expression index replaces the other: an order write adds as many
-- index entries as before.
DROP INDEX IF EXISTS orders_tracking_upper;
CREATE INDEX orders_tracking_key ON orders (upper(replace(replace(tracking_number, ' ', ''), '-', '')))
  WHERE tracking_number IS NOT NULL;
