-- Issue 23 points 5 and 6. A clinic may set its own weekly SMS cap (NULL = SMS_WEEKLY_CAP); a patient
-- has a message language (en | es; NULL = the clinic's default_locale, resolved when sending); each
-- notification records the language it was rendered in (NULL until rendered), for the admin API.
ALTER TABLE clinic_profiles ADD COLUMN sms_weekly_cap INTEGER;
ALTER TABLE patients ADD COLUMN locale TEXT;
ALTER TABLE notifications ADD COLUMN locale TEXT;
