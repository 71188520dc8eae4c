/** The channels a patient is told on, and the languages (a leaf: the config, the outbox SQL and the queues all name them). */
export const CHANNELS = ["sms", "email"] as const;
export type Channel = (typeof CHANNELS)[number];

/** The languages patient messages are written in (`en` unless the patient or the clinic says `es`). */
export const LOCALES = ["en", "es"] as const;
export type Locale = (typeof LOCALES)[number];
